import { Readable } from 'node:stream';
import { isMesaError, MesaError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { findLedgers, isLedgerKeyTaken } from '../db/repos/ledger.ts';
import { inUnitOfWork } from '../db/unit-of-work.ts';
import { findTicketById } from '../db/repos/tickets.ts';
import { BlobStore } from '../storage/blobs.ts';
import { ORIGINAL_IN_DB_MAX } from '../storage/originals.ts';
import type { InboundMail, MailSource } from './mail.ts';
import { InThreadParser, type MailParser } from './parser.ts';
import { isLockTimeout, syncCommitted } from '../db/knex.ts';
import { DB_CONFLICT_RETRIES, isDbConflict } from './driver-errors.ts';
import { loadInboundWork, type InboundWork } from './inbound-work.ts';
import { CarefulRunNeeded, cutAtTempfail, prepare, runBatch, type BatchRun, type Prepared } from './ingest-batch.ts';
import type { FetchedSource, IngestContext, IngestDeps, IngestItem, IngestResult, KeptSource } from './ingest-types.ts';
import { HEADER_SUMMARY_BYTES } from './quarantine.ts';
import { keyedByUid, sourceKeyOf } from './source-key.ts';

/**
 * Raw mail in, exactly one recorded effect out. The effect and the ledger row commit in one transaction; the
 * caller (poller, CLI) may flag or move the mail on the server only after this returns a final outcome.
 * `tempfail` means nothing was recorded and the caller must try again later (database or disk trouble).
 */
export class IngestService {
  private readonly log: Logger;
  private readonly now: () => number;
  /** Where the batches take their parsed mail from: the parse thread, or this thread. */
  readonly parser: MailParser;
  /** Set by warm() or by the first ingestMany, whichever comes first (see loadInboundWork). */
  private work!: InboundWork;
  /** Parses started by parseAhead(), by the very Buffer they parse: taken by the ingestMany that gets that Buffer,
   * dropped with it if none does (a stop, a tempfail before that batch). */
  private readonly ahead = new WeakMap<Buffer, Promise<InboundMail>>();
  private context?: IngestContext;

  constructor(private readonly deps: IngestDeps) {
    this.log = deps.logger.child({ component: 'inbound' });
    this.now = deps.clock ?? Date.now;
    this.parser =
      deps.parser ?? new InThreadParser(deps.blobs, { maxAttachmentBytes: deps.config.limits.maxAttachmentBytes });
  }

  /** Loads the parser and the filters ahead of the first mail (`mesa start` calls it once it is listening). */
  async warm(): Promise<void> {
    const [work] = await Promise.all([loadInboundWork(), this.parser.warm()]);
    this.work ??= work;
  }

  /** Stops the parse thread (mails still being parsed are tempfails: nothing of them was recorded). */
  async close(): Promise<void> {
    await this.parser.close();
  }

  /**
   * Starts parsing the next batch while this one is still in its transaction: the poller calls it as soon as the
   * next batch's sources have arrived. The parse thread takes mails in order, so these queue behind the current
   * batch's; ingestMany then finds them parsed (or in progress) instead of starting them after the commit. Without
   * it the parse thread sat idle during each commit and its flush, and the transaction then waited for the first
   * mails of the next batch. Nothing is recorded here: a mail
   * parsed ahead and never ingested leaves at most its derived blobs, orphans (src/storage/blobs.ts).
   */
  parseAhead(raws: readonly Buffer[]): void {
    for (const raw of raws) {
      if (this.ahead.has(raw) || raw.length > this.deps.config.limits.maxMessageBytes) continue;
      // The source's hash is worked out by the parse, on the parse thread (the mail's rawSha256).
      const parsed = this.parser.parse(raw);
      parsed.catch(() => undefined); // its error is handled by the ingestMany that takes it
      this.ahead.set(raw, parsed);
    }
  }

  /**
   * Whether a source of `size` bytes is not to be read into memory: over MAX_MESSAGE_BYTES (it will be refused) and
   * over what an original kept as a database row may be (ORIGINAL_IN_DB_MAX: one that small is read whole all the
   * same). A reader then streams it to keepTooLarge().
   */
  tooLargeToRead(size: number): boolean {
    return size > Math.max(this.deps.config.limits.maxMessageBytes, ORIGINAL_IN_DB_MAX);
  }

  /**
   * A source too large to read (tooLargeToRead) as it streams in, never whole in memory: into the blob store, on disk
   * before this returns (a transaction will name it), with its first bytes for the quarantine. The caller hands the
   * result to ingestMany (IngestItem.kept), which refuses it as too large. A failure of `content` (the connection
   * dropped) is rethrown as such, not as the store's.
   */
  async keepTooLarge(content: Readable): Promise<KeptSource> {
    const start: Buffer[] = [];
    let held = 0;
    let failed: unknown;
    async function* tapped(): AsyncGenerator<Buffer> {
      try {
        for await (const chunk of content as AsyncIterable<Buffer>) {
          if (held < HEADER_SUMMARY_BYTES) {
            start.push(Buffer.from(chunk.subarray(0, HEADER_SUMMARY_BYTES - held)));
            held += start.at(-1)!.length;
          }
          yield chunk;
        }
      } catch (err) {
        failed = err;
        throw err;
      }
    }
    try {
      const { sha256, size } = await this.deps.blobs.putStream(Readable.from(tapped()), { durable: true });
      return { head: Buffer.concat(start), sha256, size };
    } catch (err) {
      throw failed ?? err;
    }
  }

  /**
   * A source read from a stream (a Graph message's body, standard input, a file) where its size is not known first:
   * whole while it is not too large to read (tooLargeToRead); past that, what came so far and the rest go on to
   * keepTooLarge(), so memory holds at most the limit.
   */
  async readSource(content: AsyncIterable<Buffer>): Promise<FetchedSource> {
    const chunks = content[Symbol.asyncIterator]();
    const held: Buffer[] = [];
    let size = 0;
    for (let step = await chunks.next(); !step.done; step = await chunks.next()) {
      held.push(step.value);
      size += step.value.length;
      if (!this.tooLargeToRead(size)) continue;
      const whole = async function* (): AsyncGenerator<Buffer> {
        yield* held.splice(0);
        for (let rest = await chunks.next(); !rest.done; rest = await chunks.next()) yield rest.value;
      };
      const { head, ...kept } = await this.keepTooLarge(Readable.from(whole()));
      return { raw: head, kept };
    }
    return { raw: Buffer.concat(held, size) };
  }

  /** One mail: a group of one (see ingestMany). */
  async ingest(raw: Buffer, source: MailSource): Promise<IngestResult> {
    return (await this.ingestMany([{ raw, source }]))[0];
  }

  /**
   * Several mails in order (the poller's UID batch), committed together: group commit. Each mail still has its own
   * ledger row and runs in its own savepoint, so one bad mail is rolled back alone and quarantined, exactly as on its
   * own; the mails after it see the effects of the ones before (a follow-up to a case opened earlier in the batch).
   * One commit, and one flush of it to disk (the raw sources are rows of it, src/storage/originals.ts), serve the
   * whole batch instead of one each. Parsing runs ahead: every
   * mail of the batch is handed to the parser at once (the parse thread takes them in order), and the transaction
   * takes each one as soon as it is parsed.
   *
   * Results come back in order and stop at the first `tempfail`: nothing after it was recorded (the caller must not
   * move those mails, and will offer them again). If the transaction itself fails (database or disk trouble), every
   * mail of the group is `tempfail` and nothing of it was recorded. If the commit cannot be flushed to disk, every mail
   * of the group is `tempfail` too: it may be recorded, and offered again it is found in the ledger (exactly once).
   */
  async ingestMany(items: ReadonlyArray<IngestItem>, raced = false): Promise<IngestResult[]> {
    const results: IngestResult[] = [];
    const prepared: Prepared[] = [];
    try {
      this.work ??= await loadInboundWork();
      const keyed = items.map((it) => {
        const parsed = this.ahead.get(it.raw);
        this.ahead.delete(it.raw);
        // A mailbox's source is keyed by its UID: its hash is the parse's to work out. A file or standard input is
        // keyed by its hash.
        const rawSha = it.kept?.sha256 ?? (keyedByUid(it.source) ? undefined : BlobStore.sha256(it.raw));
        return { ...it, rawSha, parsed, sourceKey: sourceKeyOf(it.source, rawSha ?? '') };
      });
      const seen = await findLedgers(
        this.deps.db,
        keyed.map((k) => k.sourceKey),
      );
      for (const [index, k] of keyed.entries()) {
        const row = seen.get(k.sourceKey);
        if (row) {
          results[index] = this.report(
            {
              outcome: row.outcome,
              sourceKey: k.sourceKey,
              effect: row.effect as IngestResult['effect'],
              reason: row.reason,
              quarantineId: row.quarantineId,
              alreadyProcessed: true,
              ticketNumber: await this.numberOf(row.ticketId),
            },
            this.logFields(k.source),
            row.messageId,
          );
        } else {
          // Started now, all in order: the parse thread works through the batch while the transaction below
          // judges and writes the mails it has already parsed. Awaited (and its error handled) there.
          const job = prepare(this.service, index, k.raw, k.rawSha, k.source, k.sourceKey, k.parsed, k.kept);
          job.catch(() => undefined);
          prepared.push({ index, source: k.source, sourceKey: k.sourceKey, job });
        }
      }
    } catch (err) {
      return [this.tempfail(items[0].source, sourceKeyOf(items[0].source, BlobStore.sha256(items[0].raw)), err)];
    }
    if (prepared.length) {
      // A transaction holds the database's write lock from its BEGIN (src/db/knex.ts): the first mail is parsed
      // before it begins, not while other processes wait for the lock (`mesa ingest -` starts its parse thread for
      // that mail). The batch's later mails parse while the earlier ones are written. Its error is the batch's.
      await prepared[0].job.catch(() => undefined);
      let batch: BatchRun;
      // First without a savepoint per mail: a savepoint copies every page its mail changes into a sub-journal, only
      // to be able to undo one mail, which almost never happens. If a mail does fail, nothing of the batch is kept
      // and it runs again, each mail in its savepoint as before (`careful`): the failing one alone is quarantined.
      for (let careful = false, conflicts = 0; ;) {
        try {
          batch = await inUnitOfWork(this.deps.db, (uow) => runBatch(this.service, uow, prepared, careful));
          // On disk before the caller moves these mails off the server: one flush for the batch.
          await syncCommitted(this.deps.db);
          break;
        } catch (err) {
          if (err instanceof CarefulRunNeeded) {
            careful = true;
            continue;
          }
          // PostgreSQL rolled the whole transaction back to break a deadlock or a serialization conflict with another
          // process (an MTA's parallel deliveries, the jobs, another instance): nothing of it was recorded, and
          // running it again is the documented answer to those codes. Bounded: a conflict that keeps coming back
          // becomes a tempfail (`DB_CONFLICT`), which the poller or the MTA retries later.
          if (isDbConflict(err) && ++conflicts <= DB_CONFLICT_RETRIES) continue;
          // Another process recorded one of these very sources meanwhile: offered again, the ledger has its answer.
          if (!raced && isLedgerKeyTaken(err)) return this.ingestMany(items, true);
          for (const p of prepared) results[p.index] = this.tempfail(p.source, p.sourceKey, err);
          return cutAtTempfail(results);
        }
      }
      // Committed: PostgreSQL's statistics of the tables this read follow what it wrote (src/db/statistics.ts).
      await this.deps.statistics?.wrote(batch.done.length);
      for (const d of batch.done)
        results[d.job.index] = this.report(d.result, this.logFields(d.job.source), d.messageId);
      const { unprepared } = batch;
      if (unprepared)
        results[unprepared.index] = this.tempfail(unprepared.source, unprepared.sourceKey, unprepared.err);
      // Not run: after a tempfail in the group (cut below).
    }
    return cutAtTempfail(results);
  }

  private tempfail(source: MailSource, sourceKey: string, cause: unknown): IngestResult {
    // A write that waited its whole turn (SQLITE_LOCK_WAIT_SECONDS) says so in words: an MTA shows it as the reason
    // of the deferral.
    const err = isLockTimeout(cause) ? new MesaError('DB_BUSY', undefined, { cause }) : cause;
    const reason = isMesaError(err) ? err.code : isDbConflict(err) ? 'DB_CONFLICT' : 'internal_error';
    return this.report(
      { outcome: 'tempfail', sourceKey, reason, detail: (err as Error).message?.slice(0, 300) },
      this.logFields(source),
      undefined,
      cause,
    );
  }

  /** What the batch, effect and quarantine stages read of this service; built once the parser and the filters are
   * loaded (warm() or the first ingestMany). */
  private get service(): IngestContext {
    return (this.context ??= { deps: this.deps, log: this.log, now: this.now, parser: this.parser, work: this.work });
  }

  private async numberOf(ticketId?: number): Promise<number | undefined> {
    if (!ticketId) return undefined;
    return (await findTicketById(this.deps.db, ticketId))?.number;
  }

  private logFields(source: MailSource): Record<string, unknown> {
    if (source.kind === 'imap')
      return { mailbox: `${source.account}:${source.folder}`, uidvalidity: source.uidvalidity, uid: source.uid };
    return source.kind === 'replay'
      ? { mailbox: 'replay', quarantineId: source.quarantineId }
      : { mailbox: source.kind };
  }

  private report(
    result: IngestResult,
    fields: Record<string, unknown>,
    messageId?: string,
    err?: unknown,
  ): IngestResult {
    const line = {
      ...fields,
      messageId,
      ticket: result.ticketNumber,
      verdict: result.outcome,
      effect: result.effect,
      reason: result.reason,
      alreadyProcessed: result.alreadyProcessed || undefined,
    };
    if (result.outcome === 'tempfail') this.log.warn({ ...line, err }, 'correo pendiente: se reintentará');
    else this.log.info(line, 'correo procesado');
    return result;
  }
}

export { MesaError };
