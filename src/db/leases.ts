import crypto from 'node:crypto';
import os from 'node:os';
import type { Knex } from 'knex';
import type { Logger } from '../logger.ts';
import { isPostgres } from './knex.ts';
import { releaseLease, renewLease, tryAcquireLease } from './repos/leases.ts';

/**
 * Mailbox leases: with several `mesa start` processes on one PostgreSQL database, each mailbox is polled by
 * exactly one of them; when that one dies, another takes over once the lease expires (TTL, default 10 s).
 *
 * Why a table and not `pg_try_advisory_lock`: an advisory lock lives on one session, so it would need a
 * connection pinned outside knex's pool for the life of the process, and a pooler in transaction mode
 * (PgBouncer) silently breaks it. A row with a holder and an expiry needs no special connection, works the same
 * on SQLite, and shows who polls what (`listLeases`) on the status page. The price is that takeover waits for the
 * expiry instead of being immediate.
 *
 * A lease is a scheduling aid, not what keeps mail single: if two instances ever overlap (a paused process whose
 * lease expired wakes up), the ingestion ledger's unique source key and the effect claim still give each mail one
 * effect. The poller should stop at the next mail when the lease's signal aborts.
 */

export interface LeaseOptions {
  /** How long a lease lasts without renewal. Takeover after a crash takes at most ttl + retryEvery. */
  ttlMs?: number;
  /** Heartbeat period; a third of the TTL tolerates two missed beats. */
  renewEveryMs?: number;
  /** How often a waiting instance tries to take a held lease. */
  retryEveryMs?: number;
  /** Identifies this process in the table; default host:pid:random. */
  holder?: string;
  /** Use the table even on SQLite (tests). By default the lease is shared only on PostgreSQL: on SQLite one
   * instance is assumed, and a restarted process should not wait for its dead predecessor's lease to expire. */
  shared?: boolean;
  logger?: Logger;
}

export const DEFAULT_LEASE_TTL_MS = 10_000;

export function defaultHolder(): string {
  return `${os.hostname()}:${process.pid}:${crypto.randomBytes(3).toString('hex')}`;
}

/** acquire / renew / release on one named lease, for callers that drive their own loop. */
export class MailboxLease {
  readonly name: string;
  readonly holder: string;
  readonly ttlMs: number;
  readonly shared: boolean;

  constructor(private readonly db: Knex, name: string, opts: LeaseOptions = {}) {
    this.name = `mailbox:${name}`;
    this.holder = opts.holder ?? defaultHolder();
    this.ttlMs = opts.ttlMs ?? DEFAULT_LEASE_TTL_MS;
    this.shared = opts.shared ?? isPostgres(db);
  }

  async acquire(): Promise<boolean> {
    if (!this.shared) return true;
    return (await tryAcquireLease(this.db, this.name, this.holder, this.ttlMs)) !== undefined;
  }

  async renew(): Promise<boolean> {
    if (!this.shared) return true;
    return renewLease(this.db, this.name, this.holder, this.ttlMs);
  }

  async release(): Promise<void> {
    if (this.shared) await releaseLease(this.db, this.name, this.holder);
  }
}

/**
 * Waits until this process holds the mailbox's lease (or `signal` aborts: then resolves undefined without
 * calling fn), runs `fn` with a signal that aborts if the lease is lost, keeps the lease renewed meanwhile, and
 * releases it when fn settles so that a graceful stop hands the mailbox over at once.
 */
export async function withMailboxLease<T>(
  db: Knex,
  mailbox: string,
  fn: (leaseSignal: AbortSignal) => Promise<T>,
  opts: LeaseOptions & { signal?: AbortSignal } = {},
): Promise<T | undefined> {
  const lease = new MailboxLease(db, mailbox, opts);
  const log = opts.logger?.child({ component: 'lease', lease: lease.name, holder: lease.holder });
  const renewEvery = opts.renewEveryMs ?? Math.max(50, Math.floor(lease.ttlMs / 3));
  const retryEvery = opts.retryEveryMs ?? Math.max(50, Math.floor(lease.ttlMs / 5));

  let waitingLogged = false;
  for (;;) {
    if (opts.signal?.aborted) return undefined;
    let got = false;
    try {
      got = await lease.acquire();
    } catch (err) {
      log?.warn({ err }, 'no se pudo consultar el lease; se reintenta');
    }
    if (got) break;
    if (!waitingLogged) log?.info('el buzón lo atiende otra instancia; en espera');
    waitingLogged = true;
    await sleep(retryEvery, opts.signal);
  }
  if (lease.shared) log?.info('lease adquirido: esta instancia atiende el buzón');

  const lost = new AbortController();
  const onOuterAbort = () => lost.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  let lastRenewed = Date.now();
  const beat = lease.shared
    ? setInterval(() => {
        lease.renew().then(
          (ok) => {
            if (ok) lastRenewed = Date.now();
            else if (!lost.signal.aborted) {
              log?.warn('lease perdido: otra instancia tomó el buzón');
              lost.abort(new Error('lease lost'));
            }
          },
          (err) => {
            // Database unreachable: keep trying until our own TTL runs out, then assume another took over.
            if (Date.now() - lastRenewed >= lease.ttlMs && !lost.signal.aborted) {
              log?.warn({ err }, 'lease vencido sin poder renovarlo');
              lost.abort(err);
            }
          },
        );
      }, renewEvery)
    : undefined;
  beat?.unref();
  try {
    return await fn(lost.signal);
  } finally {
    if (beat) clearInterval(beat);
    opts.signal?.removeEventListener('abort', onOuterAbort);
    await lease.release().catch((err) => log?.warn({ err }, 'no se pudo liberar el lease; vencerá solo'));
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
