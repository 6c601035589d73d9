import type { ImapFlow } from 'imapflow';
import type { Knex } from 'knex';
import type { MailboxConfig } from '../config.ts';
import { isPostgres } from '../db/knex.ts';
import { withMailboxLease, type LeaseOptions } from '../db/leases.ts';
import { getMailboxState, saveMailboxState, stateKey } from '../db/repos/mailbox-state.ts';
import type { Logger } from '../logger.ts';
import { createImapClient, describeImapError } from './imap-client.ts';
import { ImapCredentials, type MailboxTokenSource } from './imap-credentials.ts';
import type { IngestResult, IngestService } from './ingest.ts';

/**
 * The IMAP adapter: one isolated loop per configured mailbox (support, fallback). It only translates between the
 * server and IngestService; whether a mail opens a case is decided there.
 *
 * Guarantees (docs/ARCHITECTURE.md, «Garantías»):
 * - UIDs are taken in ascending order and `mailbox_state.last_uid` only moves past a mail whose ingest returned a
 *   final outcome; it is written once per fetched batch, so a crash re-reads at most that batch, whose mails the
 *   ledger then recognises.
 * - The mail is moved to the processed folder (when configured) only after its effect committed. \Seen is never
 *   touched: FETCH uses BODY.PEEK[] (RFC 3501 §6.4.5), because people read the support mailbox too.
 * - A UIDVALIDITY change (RFC 3501 §2.3.1.1) restarts from UID 1; the new source keys are unknown to the ledger,
 *   but the content hash is not, so every mail already acted on is recorded as a duplicate and nothing doubles.
 * - `tempfail` (database or disk trouble) ends the round; it is retried with exponential backoff.
 * - One mailbox failing (bad password, server down) is logged, recorded in mailbox_state and retried with
 *   backoff; it shares nothing with the other mailbox's loop.
 * - Several instances on one PostgreSQL: a mailbox is read only while this process holds its lease
 *   (src/db/leases.ts); if the lease is lost, the loop stops at the next mail and waits to get it back.
 */

export interface PollerDeps {
  db: Knex;
  ingest: Pick<IngestService, 'ingestMany'> & Partial<Pick<IngestService, 'parseAhead'>>;
  logger: Logger;
  /** OAuth2 tokens (IMAP_AUTH=oauth2), kept by src/mailboxes/. */
  tokens?: MailboxTokenSource;
}

export interface PollerOptions {
  /** Exponential backoff after a failure: first wait, cap. Defaults 1 s and 5 min. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Builds the IMAP client (tests never replace it; it exists so the client config lives in one place). */
  createClient?: (mb: MailboxConfig, logger: Logger, accessToken?: string) => ImapFlow;
  /** Mailbox lease timings and holder name (several instances on PostgreSQL); defaults in src/db/leases.ts. */
  lease?: LeaseOptions;
  /** Most mails fetched and ingested together (one FETCH, one transaction); default batchCountFor(db). */
  batchCount?: number;
  /** UIDs whose sizes are asked in one FETCH (default SIZE_CHUNK; tests use fewer). */
  sizeChunk?: number;
}

export { stateKey };

type RoundResult = 'done' | 'tempfail' | 'stopped';

/** UIDs whose sizes are asked in one FETCH; bytes fetched whole in one FETCH (a larger mail comes alone). */
const SIZE_CHUNK = 500;
const BATCH_BYTES = 8 * 1024 * 1024;

/**
 * How many mails one batch takes at most: one FETCH, one transaction, one flush to disk. On SQLite a commit writes
 * every page the batch changed to the WAL, once however many of its mails changed it (the end of each table and index,
 * the counters): 200 mails wrote 4.3 pages each where 50 wrote 7.9, and the ingest ran ~10 % faster
 * (tests/bench/README.md, fifteenth delivery). On PostgreSQL a batch holds the row locks of its cases and the
 * organization lock until it commits, and other instances wait for them: 50 keeps that short.
 */
export function batchCountFor(db: Knex): number {
  return isPostgres(db) ? 50 : 200;
}

export class MailboxPoller {
  private readonly log: Logger;
  private stopping = false;
  private running?: Promise<void>;
  private client?: ImapFlow;
  /** Set by the server's EXISTS (new mail) during a round, so the wait after it is skipped. */
  private dirty = false;
  private wake?: () => void;
  /** True while connecting/logging in: stop() may then drop the connection, there is no mail in hand. */
  private connecting = false;
  private readonly backoffInitial: number;
  private readonly backoffMax: number;
  private readonly batchCount: number;
  private readonly sizeChunk: number;
  private readonly stopController = new AbortController();
  /** Aborts when another instance has taken this mailbox's lease over. */
  private lease?: AbortSignal;
  /** The OAuth2 token to log in with, and whether a newer one appeared since (then: reconnect with it). */
  private readonly credentials: ImapCredentials;

  constructor(private readonly deps: PollerDeps, readonly mailbox: MailboxConfig, private readonly opts: PollerOptions = {}) {
    this.log = deps.logger.child({ component: 'poller', mailbox: stateKey(mailbox) });
    this.backoffInitial = opts.backoffInitialMs ?? 1000;
    this.backoffMax = opts.backoffMaxMs ?? 5 * 60_000;
    this.batchCount = opts.batchCount ?? batchCountFor(deps.db);
    this.sizeChunk = opts.sizeChunk ?? SIZE_CHUNK;
    this.credentials = new ImapCredentials(mailbox, deps.tokens, () => this.wake?.());
  }

  start(): this {
    this.running ??= this.leased().catch((err) => this.log.fatal({ err }, 'el lector del buzón terminó por un error inesperado'));
    return this;
  }

  /** Finishes the batch in hand (its ingest and its move), then logs out. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopController.abort();
    this.wake?.();
    if (this.connecting) this.client?.close();
    await this.running;
    this.credentials.dispose();
  }

  /** Runs the loop while holding the mailbox's lease, and waits for it again if it is lost. */
  private async leased(): Promise<void> {
    while (!this.stopping) {
      await withMailboxLease(this.deps.db, stateKey(this.mailbox), async (lease) => {
        this.lease = lease;
        const onLost = () => this.wake?.();
        lease.addEventListener('abort', onLost, { once: true });
        // The token is refreshed by the instance that reads the mailbox, and only while it does.
        this.credentials.keepFresh(lease);
        try {
          await this.loop();
        } finally {
          lease.removeEventListener('abort', onLost);
          this.lease = undefined;
        }
      }, { ...this.opts.lease, signal: this.stopController.signal, logger: this.deps.logger });
    }
  }

  /** Stopping, or no longer holding the lease: finish the mail in hand and leave the loop. */
  private get halted(): boolean {
    return this.stopping || this.lease?.aborted === true;
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.halted) {
      let token: string | undefined;
      try {
        token = await this.credentials.forConnect();
      } catch (err) {
        // No usable token (the grant is gone, the provider is down): recorded, and tried again after the backoff or as
        // soon as a new token is stored (`mesa mailbox login`), whichever comes first.
        const e = describeImapError(err);
        const wait = this.backoff(failures++);
        this.log.error({ err: e, code: e.code, retryInMs: wait }, 'el buzón no tiene un token de acceso válido');
        await this.recordError(e.message);
        if (!this.credentials.changed) await this.pause(wait);
        continue;
      }
      const client = (this.opts.createClient ?? createImapClient)(this.mailbox, this.deps.logger, token);
      this.client = client;
      client.on('error', (err: Error) => this.log.warn({ err: describeImapError(err) }, 'error de la conexión IMAP'));
      client.on('exists', () => {
        this.dirty = true;
        this.wake?.();
      });
      client.on('close', () => this.wake?.());
      try {
        this.connecting = true;
        try {
          await client.connect();
        } finally {
          this.connecting = false;
        }
        if (this.halted) break;
        this.log.info({ host: this.mailbox.host, user: this.mailbox.user, idle: client.capabilities.has('IDLE') }, 'conectado al buzón');
        if (this.mailbox.processedFolder) await this.ensureFolder(client, this.mailbox.processedFolder);
        let tempfails = 0;
        while (!this.halted && client.usable && !this.credentials.changed) {
          const round = await this.round(client);
          if (round === 'stopped') break;
          if (round === 'tempfail') {
            await this.pause(this.backoff(tempfails++));
            continue;
          }
          tempfails = 0;
          failures = 0;
          await this.waitForNews(client);
        }
        if (this.credentials.changed && client.usable) {
          this.log.info('token nuevo: se vuelve a conectar con él');
          continue;
        }
        if (!this.halted) throw new Error('el servidor cerró la conexión');
      } catch (err) {
        if (this.halted && !client.usable) break;
        const e = describeImapError(err);
        if (e.code === 'IMAP_AUTH_FAILED') this.credentials.loginRefused();
        const wait = this.backoff(failures++);
        this.log.error({ err: e, code: e.code, retryInMs: wait, attempt: failures }, 'no se pudo leer el buzón; se reintentará');
        await this.recordError(e.message);
        await this.pause(wait);
      } finally {
        this.client = undefined;
        if (client.usable) await client.logout().catch(() => client.close());
        else client.close();
      }
    }
    this.log.info('lector del buzón detenido');
  }

  /** One pass over the mailbox: every UID above last_uid, in order. */
  private async round(client: ImapFlow): Promise<RoundResult> {
    const name = stateKey(this.mailbox);
    this.dirty = false;
    const now = Date.now();
    await saveMailboxState(this.deps.db, name, { lastPollAt: now });
    // SELECT each round: it is what reports a new UIDVALIDITY if the mailbox was recreated meanwhile.
    const box = await client.mailboxOpen(this.mailbox.mailbox);
    const uidvalidity = Number(box.uidValidity);
    let state = await getMailboxState(this.deps.db, name);
    if (state?.uidvalidity !== undefined && state.uidvalidity !== uidvalidity) {
      this.log.warn({ before: state.uidvalidity, now: uidvalidity }, 'UIDVALIDITY cambió: se relee el buzón desde el principio (el registro evita duplicados)');
    }
    if (state?.uidvalidity !== uidvalidity) {
      await saveMailboxState(this.deps.db, name, { uidvalidity, lastUid: 0 });
      state = await getMailboxState(this.deps.db, name);
    }
    let lastUid = state?.lastUid ?? 0;

    // "N:*" always matches the highest UID even when it is below N (RFC 3501 §6.4.8), hence the filter.
    const found = box.exists === 0 ? [] : await client.search({ uid: `${lastUid + 1}:*` }, { uid: true });
    const uids = (found || []).filter((u) => u > lastUid).sort((a, b) => a - b);
    if (uids.length) this.log.debug({ count: uids.length, from: uids[0] }, 'correos nuevos');

    // Sources come in batches (one FETCH per batch instead of one round trip per mail), each batch is ingested in one
    // group commit, and last_uid is written once per batch. A crash between the commit and last_uid re-reads the
    // batch: its ledger rows (looked up by source key before anything else) make it a no-op, so exactly-once holds.
    let saved = lastUid;
    const progress = async () => {
      if (lastUid !== saved) await saveMailboxState(this.deps.db, name, { lastUid });
      saved = lastUid;
    };
    // Each batch is read from the server while the one before it is ingested (at most two batches in memory), also
    // across the runs of sizeChunk UIDs that batches() plans, so the parse thread never waits for a round trip.
    const plan = this.plan(client, uids);
    let next = this.readNext(client, plan);
    for (let ahead = await next; ahead; ahead = await next) {
      if (this.halted) return 'stopped';
      const { batch } = ahead;
      const sources = await ahead.sources;
      // Parsing starts now for this batch (unless it already has), in UID order (IngestService.parseAhead)…
      this.deps.ingest.parseAhead?.([...sources.values()]);
      // The next batch is read while this one is ingested: the server sends it while Mesa parses and writes. Its
      // failure surfaces when it is awaited, in the next turn; after a tempfail or a stop it is simply dropped
      // (nothing was done with it, the next round reads it again).
      next = this.readNext(client, plan);
      // …and for the next one as soon as it is here, behind this one: the parse thread works through it while
      // this batch commits, and the next transaction finds its first mails parsed.
      next.then((following) => following?.sources.then((got) => this.deps.ingest.parseAhead?.([...got.values()]))).catch(() => undefined);
      // Expunged by someone between SEARCH and FETCH: no source, nothing to ingest.
      const present = batch.filter((uid) => sources.has(uid));
      // The whole batch in one group commit (IngestService.ingestMany); results in order, cut at a tempfail.
      const results: IngestResult[] = present.length ? await this.deps.ingest.ingestMany(present.map((uid) => ({
        raw: sources.get(uid)!, source: { kind: 'imap', account: this.mailbox.name, folder: this.mailbox.mailbox, uidvalidity, uid },
      }))) : [];
      sources.clear();
      const committed = present.slice(0, results.filter((r) => r.outcome !== 'tempfail').length);
      // The effects and their ledger rows are committed: only now may those mails leave the mailbox (one MOVE).
      if (this.mailbox.processedFolder && committed.length) await client.messageMove(committed.join(','), this.mailbox.processedFolder, { uid: true });
      const failed = results.find((r) => r.outcome === 'tempfail');
      if (failed) {
        const uid = present[results.indexOf(failed)];
        lastUid = Math.max(lastUid, ...batch.filter((u) => u < uid));
        await progress();
        await this.recordError(`correo UID ${uid} pendiente: ${failed.detail ?? failed.reason ?? 'tempfail'}`);
        return 'tempfail';
      }
      lastUid = batch.at(-1)!;
      await progress();
      if (this.halted) return 'stopped';
    }
    await saveMailboxState(this.deps.db, name, { lastSuccessAt: Date.now(), lastError: undefined, errorCount: 0 });
    return 'done';
  }

  /** The batches of `uids` in order, their sizes asked sizeChunk UIDs at a time, as the reading gets there. */
  private async *plan(client: ImapFlow, uids: number[]): AsyncGenerator<number[]> {
    for (let i = 0; i < uids.length; i += this.sizeChunk) yield* await this.batches(client, uids.slice(i, i + this.sizeChunk));
  }

  /** The plan's next batch, its sources already asked for; undefined when the plan is done. A failure (of the size
   * FETCH or of the sources) rejects when awaited. */
  private async readNext(client: ImapFlow, plan: AsyncGenerator<number[]>): Promise<{ batch: number[]; sources: Promise<Map<number, Buffer>> } | undefined> {
    const step = await plan.next();
    if (step.done) return undefined;
    const sources = this.sources(client, step.value);
    sources.catch(() => undefined); // handled where it is awaited
    return { batch: step.value, sources };
  }

  /**
   * Splits ascending UIDs into runs to fetch whole: at most batchCount mails and BATCH_BYTES bytes each (sizes from
   * one FETCH of RFC822.SIZE, RFC 3501 §6.4.5), a mail larger than that alone, so memory stays bounded.
   */
  private async batches(client: ImapFlow, uids: number[]): Promise<number[][]> {
    if (uids.length <= 1) return uids.length ? [uids] : [];
    const sizes = new Map<number, number>();
    for (const m of await client.fetchAll(`${uids[0]}:${uids.at(-1)}`, { uid: true, size: true }, { uid: true })) sizes.set(m.uid, m.size ?? 0);
    const out: number[][] = [];
    let current: number[] = [];
    let bytes = 0;
    for (const uid of uids) {
      const size = sizes.get(uid) ?? 0;
      if (current.length && (current.length >= this.batchCount || bytes + size > BATCH_BYTES)) {
        out.push(current);
        current = [];
        bytes = 0;
      }
      current.push(uid);
      bytes += size;
    }
    if (current.length) out.push(current);
    return out;
  }

  /** The sources of one batch: a contiguous run of the ascending UIDs, so `first:last` names exactly them (UIDs
   * only grow, RFC 3501 §2.3.1.1: none can appear inside the run later); others are ignored all the same. */
  private async sources(client: ImapFlow, batch: number[]): Promise<Map<number, Buffer>> {
    const out = new Map<number, Buffer>();
    const wanted = new Set(batch);
    const range = batch.length === 1 ? String(batch[0]) : `${batch[0]}:${batch.at(-1)}`;
    for (const m of await client.fetchAll(range, { uid: true, source: true }, { uid: true })) {
      if (m.source && wanted.has(m.uid)) out.set(m.uid, m.source);
    }
    return out;
  }

  /** Waits for the server to announce new mail (IDLE, RFC 2177) or for the poll interval, whichever is first. */
  private async waitForNews(client: ImapFlow): Promise<void> {
    // A connection that closed before this point fired its 'close' while nobody was waiting (`wake` unset): without
    // this check the poller slept the whole poll interval before noticing (seen with the CPU busy: Dovecot stopped
    // right after a round, and the outage was recorded up to IMAP_POLL_SECONDS late).
    if (this.dirty || this.halted || !client.usable || this.credentials.changed) return;
    if (client.capabilities.has('IDLE')) {
      // Resolves when IDLE is broken by the next command; if it fails because the connection is gone, stop waiting.
      client.idle().catch((err: unknown) => {
        this.log.debug({ err }, 'IDLE terminó con error');
        if (!client.usable) this.wake?.();
      });
    }
    await this.pause(this.mailbox.pollSeconds * 1000);
  }

  private async pause(ms: number): Promise<void> {
    if (this.halted) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
    this.wake = undefined;
  }

  private backoff(attempt: number): number {
    const base = Math.min(this.backoffMax, this.backoffInitial * 2 ** Math.min(attempt, 20));
    return Math.round(base * (0.75 + Math.random() * 0.5)); // jitter, so two failing mailboxes do not beat in step
  }

  private async ensureFolder(client: ImapFlow, folder: string): Promise<void> {
    const list = await client.list();
    if (list.some((f) => f.path === folder)) return;
    await client.mailboxCreate(folder);
    this.log.info({ folder }, 'carpeta de procesados creada');
  }

  private async recordError(message: string): Promise<void> {
    try {
      const state = await getMailboxState(this.deps.db, stateKey(this.mailbox));
      await saveMailboxState(this.deps.db, stateKey(this.mailbox), {
        lastError: message.slice(0, 1000), errorCount: (state?.errorCount ?? 0) + 1, lastPollAt: Date.now(),
      });
    } catch (err) {
      this.log.warn({ err }, 'no se pudo registrar el error del buzón en la base de datos');
    }
  }
}

/** All configured mailboxes, each in its own loop. */
export function startPollers(deps: PollerDeps, mailboxes: readonly MailboxConfig[], opts: PollerOptions = {}) {
  const pollers = mailboxes.map((mb) => new MailboxPoller(deps, mb, opts).start());
  return {
    pollers,
    async stop() {
      await Promise.all(pollers.map((p) => p.stop()));
    },
  };
}
