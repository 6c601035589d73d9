import type { Knex } from 'knex';
import type { Logger } from '../logger.ts';
import { defaultHolder, holderIsGone } from './holders.ts';
import { isPostgres } from './knex.ts';
import { clearLeaseHolder, recordLeaseHolder, takeLease, touchLease } from './repos/leases.ts';

/**
 * Mailbox leases: with several `mesa start` processes on one PostgreSQL database, each mailbox is read by exactly
 * one of them, and another takes over as soon as that one dies.
 *
 * The lock is a session-level PostgreSQL advisory lock (`pg_try_advisory_lock`) held on a connection of its own,
 * outside knex's pool. Why not a row with an expiry renewed by heartbeat: an advisory lock dies with its session,
 * so when the holder is SIGKILLed or its machine drops, the server frees the lock the moment the connection
 * closes and a waiting instance takes over within its retry interval (default 1 s), instead of waiting for a TTL
 * to run out after every crash or restart. The cost is one extra connection per mailbox and instance, which must
 * be a real session: behind PgBouncer, point Mesa at a session-pooling port.
 *
 * The holder checks its lock connection every few seconds (`SELECT 1`); if that connection fails, the lock is
 * gone (the server may already have given it to another instance), so the poller is told to stop at the next
 * mail. If two instances ever overlap for a moment, the ingestion ledger's unique source key and the effect claim
 * still give each mail one effect: the lease is about not doing the work twice, not about correctness.
 *
 * On SQLite (one file, so one machine) the `leases` row itself is the lock: taken by compare-and-set
 * (takeLease), renewed by the same heartbeat, and taken over when it expires or at once when its holder's process on
 * this machine has ended (holderIsGone). A second `mesa start` on the same file, by mistake or as a standby, then
 * waits for the mailbox instead of reading it alongside the first.
 */

export interface LeaseOptions {
  /** How often a waiting instance tries to take a held lock (default 1 s). */
  retryEveryMs?: number;
  /** How often the holder checks that it still holds the lock (default 3 s). */
  checkEveryMs?: number;
  /** Identifies this process in the `leases` table; default host:pid:random. */
  holder?: string;
  logger?: Logger;
}

const LOCK_CLASS = 0x4d657361; // "Mesa": the first key of the two-key advisory lock, so other apps' locks never clash

/** The `leases` row (and advisory lock key) of a mailbox, by its state key (src/db/repos/mailbox-state.ts). */
export function mailboxLeaseName(mailboxKey: string): string {
  return `mailbox:${mailboxKey}`;
}

type PgConnection = {
  query(sql: string, params?: unknown[]): Promise<{ rows: any[] }>;
  on(event: 'error' | 'end', fn: (err?: Error) => void): void;
  end(): Promise<void>;
};

/** acquire / check / release of one mailbox's lock, for callers that drive their own loop. */
export class MailboxLease {
  readonly name: string;
  readonly holder: string;
  private readonly pg: boolean;
  private conn?: PgConnection;
  private broken?: Error;
  /** SQLite: this holder's row is the lock. */
  private holding = false;

  constructor(
    private readonly db: Knex,
    mailbox: string,
    private readonly opts: LeaseOptions = {},
  ) {
    this.name = mailboxLeaseName(mailbox);
    this.holder = opts.holder ?? defaultHolder();
    this.pg = isPostgres(db);
  }

  get held(): boolean {
    return this.pg ? this.conn !== undefined && !this.broken : this.holding;
  }

  /** True when this process now holds the lock. */
  async acquire(): Promise<boolean> {
    if (this.held) return true;
    if (!this.pg) {
      this.holding = await takeLease(this.db, this.name, this.holder, Date.now(), this.ttl(), holderIsGone);
      return this.holding;
    }
    const conn = await this.connect();
    const { rows } = await conn.query('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [LOCK_CLASS, this.name]);
    if (!rows[0]?.ok) {
      await this.disconnect();
      return false;
    }
    await recordLeaseHolder(this.db, this.name, this.holder, Date.now(), this.ttl()).catch((err) =>
      this.opts.logger?.warn({ err }, 'no se pudo anotar el titular del buzón'),
    );
    return true;
  }

  /**
   * Still holding? PostgreSQL: a failed lock connection means the server has released the lock. SQLite: the row
   * renewed is still this holder's; a row taken over, or a renewal that failed (the row may have expired meanwhile),
   * means it may not be.
   */
  async check(): Promise<boolean> {
    if (!this.held) return false;
    if (!this.pg) {
      const renewed = await touchLease(this.db, this.name, this.holder, Date.now(), this.ttl()).catch(() => 0);
      this.holding = renewed > 0;
      return this.holding;
    }
    try {
      await this.conn!.query('SELECT 1');
      await touchLease(this.db, this.name, this.holder, Date.now(), this.ttl()).catch(() => undefined);
      return true;
    } catch (err) {
      this.broken ??= err as Error;
      return false;
    }
  }

  async release(): Promise<void> {
    this.holding = false;
    if (this.conn && !this.broken) {
      await this.conn
        .query('SELECT pg_advisory_unlock($1, hashtext($2))', [LOCK_CLASS, this.name])
        .catch(() => undefined);
    }
    await this.disconnect();
    await clearLeaseHolder(this.db, this.name, this.holder).catch(() => undefined);
  }

  /** How long a row stays the holder's without a heartbeat: three missed checks. */
  private ttl(): number {
    return this.checkEvery() * 3;
  }

  checkEvery(): number {
    return this.opts.checkEveryMs ?? 3000;
  }

  private async connect(): Promise<PgConnection> {
    // A raw connection from knex's client: the same settings as the pool, but ours alone for the lock's lifetime.
    const conn = (await (this.db.client as any).acquireRawConnection()) as PgConnection;
    this.broken = undefined;
    conn.on('error', (err) => (this.broken ??= err ?? new Error('conexión del lease con error')));
    conn.on('end', () => (this.broken ??= new Error('conexión del lease cerrada')));
    this.conn = conn;
    return conn;
  }

  private async disconnect(): Promise<void> {
    const conn = this.conn;
    this.conn = undefined;
    if (conn) await conn.end().catch(() => undefined);
  }
}

/**
 * Waits until this process holds the mailbox's lock (or `signal` aborts: then resolves undefined without calling
 * fn), runs `fn` with a signal that aborts if the lock is lost, and releases the lock when fn settles so that a
 * graceful stop hands the mailbox over at once.
 */
export async function withMailboxLease<T>(
  db: Knex,
  mailbox: string,
  fn: (leaseSignal: AbortSignal) => Promise<T>,
  opts: LeaseOptions & { signal?: AbortSignal } = {},
): Promise<T | undefined> {
  const lease = new MailboxLease(db, mailbox, opts);
  const log = opts.logger?.child({ component: 'lease', lease: lease.name, holder: lease.holder });
  const retryEvery = opts.retryEveryMs ?? 1000;

  let waitingLogged = false;
  for (;;) {
    if (opts.signal?.aborted) return undefined;
    let got = false;
    try {
      got = await lease.acquire();
    } catch (err) {
      log?.warn({ err }, 'no se pudo pedir el buzón a la base de datos; se reintenta');
    }
    if (got) break;
    if (!waitingLogged) log?.info('el buzón lo atiende otra instancia; en espera');
    waitingLogged = true;
    await sleep(retryEvery, opts.signal);
  }
  log?.info('esta instancia atiende el buzón');

  const lost = new AbortController();
  const onOuterAbort = () => lost.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const beat = setInterval(() => {
    void lease.check().then((ok) => {
      if (!ok && !lost.signal.aborted) {
        log?.warn('se perdió el buzón: otra instancia puede tomarlo');
        lost.abort(new Error('lease lost'));
      }
    });
  }, lease.checkEvery());
  beat.unref();
  try {
    return await fn(lost.signal);
  } finally {
    clearInterval(beat);
    opts.signal?.removeEventListener('abort', onOuterAbort);
    await lease
      .release()
      .catch((err) => log?.warn({ err }, 'no se pudo liberar el buzón; se libera al cerrar la conexión'));
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * A mailbox reader's life: holds the mailbox's lock and runs `fn` with it, again each time the lock is lost and won
 * back, until `opts.signal` aborts. One reader per mailbox across instances; the others wait their turn.
 */
export async function whileMailboxLease(
  db: Knex,
  mailbox: string,
  fn: (leaseSignal: AbortSignal) => Promise<void>,
  opts: LeaseOptions & { signal: AbortSignal },
): Promise<void> {
  while (!opts.signal.aborted) await withMailboxLease(db, mailbox, fn, opts);
}
