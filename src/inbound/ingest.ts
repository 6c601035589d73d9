import type { Knex } from 'knex';
import type { Config } from '../config.ts';
import { isMesaError, MesaError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { claimEffect, findLedgers, insertLedger } from '../db/repos/ledger.ts';
import { findTicketById, lockTicket } from '../db/repos/tickets.ts';
import { insertQuarantine, updateQuarantineReason } from '../db/repos/quarantine.ts';
import type { CaseService } from '../services/cases.ts';
import { BlobStore } from '../storage/blobs.ts';
import { cleanSubject } from '../tickets/subject.ts';
import { loadContext } from './context.ts';
import type { Facts, FilterContext, ReasonCode } from './filters/types.ts';
import type { InboundMail, MailSource } from './mail.ts';
import { failedRecipients } from '../mail/bounces.ts';
import type { ConsultantPlan } from './pipeline.ts';
import { organizationFacts } from './organization-context.ts';
import type { Policy } from '../policy/policy.ts';
import type { LifecycleService } from '../services/lifecycle.ts';
import type { Ticket, TicketView } from '../tickets/types.ts';
import type { OpenCaseInput } from '../services/cases.ts';
import { InThreadParser, rawOfFailure, type MailParser } from './parser.ts';
import { savepoint, transactionView } from '../db/sql.ts';
import { isLockTimeout, isPostgres, syncCommitted } from '../db/knex.ts';
import { keepOriginals, type Original } from '../storage/originals.ts';

/**
 * The parser and the filters load with the first mail, not with the process: mailparser, iconv-lite, html-to-text
 * and email-reply-parser are about a quarter of what `mesa start` would otherwise compile before /healthz can
 * answer (tests/bench/README.md, third delivery). Loaded once; every later mail finds them ready.
 */
const importInboundWork = () => Promise.all([import('./parse.ts'), import('./pipeline.ts'), import('./quotes.ts'), import('mailparser')])
  .then(([parse, pipeline, quotes, mailparser]) => ({
    contentHash: parse.contentHash, runFilters: pipeline.runFilters, decide: pipeline.decide,
    fullTextOf: quotes.fullTextOf, simpleParser: mailparser.simpleParser,
  }));
type InboundWork = Awaited<ReturnType<typeof importInboundWork>>;
let inboundWork: Promise<InboundWork> | undefined;
const loadInboundWork = () => (inboundWork ??= importInboundWork().catch((err) => {
  inboundWork = undefined; // a later mail tries again
  throw err;
}));

export type Outcome = 'accepted' | 'ignored' | 'rejected' | 'tempfail';

export interface IngestResult {
  outcome: Outcome;
  sourceKey: string;
  effect?: 'new_case' | 'follow_up' | 'system_note' | 'held';
  reason?: ReasonCode;
  detail?: string;
  ticketNumber?: number;
  quarantineId?: number;
  /** The ledger already had this source: nothing was done again. */
  alreadyProcessed?: boolean;
}

/** Whether a source's key is its place in a mailbox (account, folder, UIDVALIDITY, UID) rather than its hash. */
const keyedByUid = (source: MailSource): boolean => source.kind === 'imap' || source.kind === 'replay';

export function sourceKeyOf(source: MailSource, rawSha256: string): string {
  switch (source.kind) {
    case 'imap':
      return `imap:${source.account}:${source.folder}:${source.uidvalidity}:${source.uid}`;
    case 'file':
      return `file:${rawSha256}`;
    case 'stdin':
      return `stdin:${rawSha256}`;
    case 'replay':
      return `replay:${source.quarantineId}`;
  }
}

const REASON_BY_CODE: Record<string, ReasonCode> = {
  MAIL_TOO_LARGE: 'too_large', MAIL_UNPARSEABLE: 'unparseable', MAIL_PARSE_TIMEOUT: 'parse_timeout', MAIL_EMPTY: 'empty',
  MAIL_NO_SENDER: 'no_sender',
};

export interface IngestDeps {
  db: Knex;
  config: Config;
  blobs: BlobStore;
  cases: CaseService;
  logger: Logger;
  clock?: () => number;
  /** Lifecycle rules (issue 5): entitlement and open-case limit facts, and where held requests go. */
  policy?: Policy;
  lifecycle?: LifecycleService;
  /** Where MIME parsing runs (src/inbound/parse-thread.ts); on this thread when absent. */
  parser?: MailParser;
}

/**
 * Raw mail in, exactly one recorded effect out. The effect and the ledger row commit in one transaction; the
 * caller (poller, CLI) may flag or move the mail on the server only after this returns a final outcome.
 * `tempfail` means nothing was recorded and the caller must try again later (database or disk trouble).
 */
export class IngestService {
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly parser: MailParser;
  /** Set by warm() or by the first ingestMany, whichever comes first (see loadInboundWork). */
  private work!: InboundWork;
  /** Parses started by parseAhead(), by the very Buffer they parse: taken by the ingestMany that gets that Buffer,
   * dropped with it if none does (a stop, a tempfail before that batch). */
  private readonly ahead = new WeakMap<Buffer, Promise<InboundMail>>();

  constructor(private readonly deps: IngestDeps) {
    this.log = deps.logger.child({ component: 'inbound' });
    this.now = deps.clock ?? Date.now;
    this.parser = deps.parser ?? new InThreadParser(deps.blobs, { maxAttachmentBytes: deps.config.limits.maxAttachmentBytes });
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
   * mails of the next batch (≈ 18 % of the ingest's wall time in `npm run bench`). Nothing is recorded here: a mail
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

  /** One mail: a group of one (see ingestMany). */
  async ingest(raw: Buffer, source: MailSource): Promise<IngestResult> {
    return (await this.ingestMany([{ raw, source }]))[0];
  }

  /**
   * Several mails in order (the poller's UID batch), committed together: group commit. Each mail still has its own
   * ledger row and runs in its own savepoint, so one bad mail is rolled back alone and quarantined, exactly as on its
   * own; the mails after it see the effects of the ones before (a follow-up to a case opened earlier in the batch).
   * One commit, and one flush of it to disk (the raw sources are rows of it, src/storage/originals.ts), serve the
   * whole batch instead of one each (`npm run bench`, docs/performance.md). Parsing runs ahead: every
   * mail of the batch is handed to the parser at once (the parse thread takes them in order), and the transaction
   * takes each one as soon as it is parsed.
   *
   * Results come back in order and stop at the first `tempfail`: nothing after it was recorded (the caller must not
   * move those mails, and will offer them again). If the transaction itself fails (database or disk trouble), every
   * mail of the group is `tempfail` and nothing of it was recorded. If the commit cannot be flushed to disk, every mail
   * of the group is `tempfail` too: it may be recorded, and offered again it is found in the ledger (exactly once).
   */
  async ingestMany(items: ReadonlyArray<{ raw: Buffer; source: MailSource }>): Promise<IngestResult[]> {
    const results: IngestResult[] = [];
    const prepared: Prepared[] = [];
    try {
      this.work ??= await loadInboundWork();
      const keyed = items.map((it) => {
        const parsed = this.ahead.get(it.raw);
        this.ahead.delete(it.raw);
        // A mailbox's source is keyed by its UID: its hash is the parse's to work out. A file or standard input is
        // keyed by its hash.
        const rawSha = keyedByUid(it.source) ? undefined : BlobStore.sha256(it.raw);
        return { ...it, rawSha, parsed, sourceKey: sourceKeyOf(it.source, rawSha ?? '') };
      });
      const seen = await findLedgers(this.deps.db, keyed.map((k) => k.sourceKey));
      for (const [index, k] of keyed.entries()) {
        const row = seen.get(k.sourceKey);
        if (row) {
          results[index] = this.report({ outcome: row.outcome, sourceKey: k.sourceKey, effect: row.effect as IngestResult['effect'], reason: row.reason, alreadyProcessed: true, ticketNumber: await this.numberOf(row.ticketId) }, this.logFields(k.source), row.messageId);
        } else {
          // Started now, all in order: the parse thread works through the batch while the transaction below
          // judges and writes the mails it has already parsed. Awaited (and its error handled) there.
          const job = this.prepare(index, k.raw, k.rawSha, k.source, k.sourceKey, k.parsed);
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
      // First without a savepoint per mail: a savepoint copies every page its mail changes into a sub-journal
      // (memcpy and malloc, ~5 % of the ingest's main thread, tests/bench/README.md fifteenth delivery), only to be
      // able to undo one mail, which almost never happens. If a mail does fail, nothing of the batch is kept and it
      // runs again, each mail in its savepoint as before (`careful`): the failing one alone is quarantined.
      for (let careful = false, conflicts = 0; ;) {
        try {
          batch = await this.deps.db.transaction((trx) => this.runBatch(trx, prepared, careful));
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
          for (const p of prepared) results[p.index] = this.tempfail(p.source, p.sourceKey, err);
          return cutAtTempfail(results);
        }
      }
      for (const d of batch.done) results[d.job.index] = this.report(d.result, this.logFields(d.job.source), d.messageId);
      const { unprepared } = batch;
      if (unprepared) results[unprepared.index] = this.tempfail(unprepared.source, unprepared.sourceKey, unprepared.err);
      // Not run: after a tempfail in the group (cut below).
    }
    return cutAtTempfail(results);
  }

  /**
   * The batch's mails in order inside its transaction, as far as they go: up to a mail not prepared yet (it waits,
   * and so do the ones after it) or a tempfail; then the raw sources of the mails kept (a case's message, a held
   * request, a quarantined mail), which the rows just written name by hash, in one statement.
   */
  private async runBatch(trx: Knex.Transaction, prepared: ReadonlyArray<Prepared>, careful: boolean): Promise<BatchRun> {
    const done: BatchRun['done'] = [];
    const originals: Original[] = [];
    let unprepared: Unprepared | undefined;
    for (const p of prepared) {
      let job: Job;
      try {
        job = await p.job;
      } catch (err) {
        // Disk trouble, a parse that must be retried.
        unprepared = { index: p.index, source: p.source, sourceKey: p.sourceKey, err };
        break;
      }
      const { result, messageId } = await this.run(trx, job, careful);
      done.push({ job, result, messageId });
      if (result.outcome === 'accepted' || result.outcome === 'rejected') originals.push({ sha256: job.rawSha, raw: job.raw });
      if (result.outcome === 'tempfail') break;
    }
    await keepOriginals(trx, this.deps.blobs, originals, this.now());
    return { done, unprepared };
  }

  /**
   * Before the mail's turn in the transaction: the size check and parsing (`parsed`: started by parseAhead). A mail
   * that will be quarantined (too large, unparseable) is prepared as such.
   */
  private async prepare(index: number, raw: Buffer, known: string | undefined, source: MailSource, sourceKey: string, parsed?: Promise<InboundMail>): Promise<Job> {
    const now = this.now();
    const base = { index, raw, source, sourceKey, now };
    if (raw.length > this.deps.config.limits.maxMessageBytes) {
      const head = await headerSummary(raw, this.work.simpleParser);
      return { ...base, rawSha: known ?? BlobStore.sha256(raw), kind: 'quarantine', hash: this.work.contentHash(raw), reason: 'too_large', detail: `${raw.length} bytes > MAX_MESSAGE_BYTES ${this.deps.config.limits.maxMessageBytes}`, head };
    }
    try {
      const mail = await (parsed ?? this.parser.parse(raw, known));
      // The parse thread may have taken a large mail's bytes over: they are the mail's `raw` now.
      return { ...base, raw: mail.raw, rawSha: mail.rawSha256, kind: 'parsed', mail };
    } catch (err) {
      if (!isMesaError(err) || err.retryable) throw err;
      const bytes = rawOfFailure(err) ?? raw;
      const head = await headerSummary(bytes, this.work.simpleParser);
      return { ...base, raw: bytes, rawSha: known ?? BlobStore.sha256(bytes), kind: 'quarantine', hash: this.work.contentHash(bytes), reason: REASON_BY_CODE[err.code] ?? 'unparseable', detail: err.detail ?? err.message, head };
    }
  }

  /**
   * One mail inside the group's transaction. Errors that mean "try later" abort the whole group. Not `careful`: the
   * mail runs without a savepoint of its own, and any other error aborts the group too (CarefulRunNeeded), which
   * then runs again carefully.
   */
  private async run(trx: Knex.Transaction, job: Job, careful: boolean): Promise<{ result: IngestResult; messageId?: string }> {
    if (job.kind === 'quarantine') {
      return { result: await this.quarantine(trx, job.raw, job.rawSha, job.hash, job.source, job.sourceKey, job.reason, job.detail, job.head, job.now), messageId: job.head.messageId };
    }
    const { mail } = job;
    if (!careful) {
      try {
        return { result: await this.judgeAndApply(transactionView(trx), mail, job.source, job.sourceKey, job.now), messageId: mail.messageId };
      } catch (err) {
        if ((isMesaError(err) && err.retryable) || isInfrastructureError(err)) throw err;
        throw new CarefulRunNeeded(err);
      }
    }
    for (let attempt = 0; ; attempt++) {
      try {
        // A savepoint: if this mail fails, only its own writes roll back.
        const result = await savepoint(trx, (sp) => this.judgeAndApply(sp, mail, job.source, job.sourceKey, job.now));
        return { result, messageId: mail.messageId };
      } catch (err) {
        // Another delivery of the same content won the race for the effect: run again, it is now a duplicate.
        // Match the constraint, not the SQL text: knex puts the whole INSERT (which names source_key) in the message.
        if (attempt === 0 && /ingest_effects\.content_hash|ingest_effects_pkey/.test(String((err as Error).message))) continue;
        if (isMesaError(err) && err.retryable) throw err;
        if (isInfrastructureError(err)) throw err;
        // A bug tripped over this one mail: keep it, say why, and let the mailbox go on.
        this.log.error({ err, sourceKey: job.sourceKey }, 'fallo inesperado al procesar; el mensaje va a cuarentena');
        return {
          result: await this.quarantine(trx, job.raw, job.rawSha, mail.contentHash, job.source, job.sourceKey, 'internal_error', String((err as Error).message).slice(0, 500), { from: mail.from?.address, subject: mail.subject, messageId: mail.messageId }, job.now),
          messageId: mail.messageId,
        };
      }
    }
  }

  private tempfail(source: MailSource, sourceKey: string, cause: unknown): IngestResult {
    // A write that waited its whole turn (SQLITE_LOCK_WAIT_SECONDS) says so in words: an MTA shows it as the reason
    // of the deferral.
    const err = isLockTimeout(cause) ? new MesaError('DB_BUSY', undefined, { cause }) : cause;
    const reason = isMesaError(err) ? err.code : isDbConflict(err) ? 'DB_CONFLICT' : 'internal_error';
    return this.report({ outcome: 'tempfail', sourceKey, reason, detail: (err as Error).message?.slice(0, 300) }, this.logFields(source), undefined, cause);
  }

  /** Runs inside `trx` (the mail's savepoint in the group's transaction): reads its context, judges, applies. */
  private async judgeAndApply(trx: Knex.Transaction, mail: InboundMail, source: MailSource, sourceKey: string, now: number, rejudged = false): Promise<IngestResult> {
    const { config } = this.deps;
    const ctx = await loadContext(trx, config, mail, source, now);
    if (this.deps.policy) ctx.organization = await organizationFacts(trx, this.deps.policy, mail);
    const verdict = this.work.runFilters(mail, ctx);
    // On PostgreSQL someone else may be changing this mail's case right now: the jobs closing it, a mail on another
    // mailbox, the status page. Lock it (until the batch commits) and, if it changed since the context read it,
    // judge the mail again on what is committed now (a reply that meets the auto-close reopens the case instead of
    // landing on a closed one). Nothing was written yet. SQLite has one writer at a time: nothing to do.
    if (!rejudged && verdict.kind !== 'stop' && isPostgres(trx)) {
      const target = verdict.facts.target;
      if (target) {
        const seen = caseInContext(ctx, target.ticketId);
        const locked = await lockTicket(trx, target.ticketId);
        if (!seen || !locked || changedSince(seen, locked)) return this.judgeAndApply(trx, mail, source, sourceKey, now, true);
      }
    }
    if (verdict.kind === 'stop') {
      if (verdict.outcome === 'tempfail') return { outcome: 'tempfail', sourceKey, reason: verdict.reason, detail: verdict.detail };
      if (verdict.outcome === 'rejected') {
        return this.quarantine(trx, mail.raw, mail.rawSha256, mail.contentHash, source, sourceKey, verdict.reason, verdict.detail ?? '', { from: mail.from?.address, subject: mail.subject, messageId: mail.messageId }, now);
      }
      await insertLedger(trx, { ...this.ledgerBase(mail, source, sourceKey, now), outcome: 'ignored', reason: verdict.reason });
      return { outcome: 'ignored', sourceKey, reason: verdict.reason, detail: verdict.detail };
    }

    const facts = verdict.facts;
    const effect = this.work.decide(facts);
    const stored = await this.storeBlobs(mail);
    const message = this.messageFrom(mail, facts, stored, now, effect.kind === 'system_note', effect.kind === 'follow_up' ? effect.consultant : undefined);
    // Loops into array literals (here and in the notifier, src/outbound/notifier.ts files()): one kind of array
    // whether they end up empty or not, so this code is not optimized again for the first mail that has some.
    const threadIds: string[] = [];
    if (mail.messageId) threadIds.push(mail.messageId);
    for (const id of mail.inReplyTo) if (id) threadIds.push(id);
    for (const id of mail.references) if (id) threadIds.push(id);
    const cc: string[] = [];
    for (const list of [mail.to, mail.cc]) {
      for (const { address: a } of list) {
        if (a !== config.supportAddress && a !== config.fallbackAddress && a !== facts.sender?.address && !config.consultants.includes(a)) cc.push(a);
      }
    }

    let ticketNumber = 0;
    let heldId = 0;
    const apply = async (trx: Knex.Transaction) => {
      await claimEffect(trx, mail.contentHash, sourceKey);
      let ticketId: number;
      let messageRowId: number;
      if (effect.kind === 'held') {
        // Kept whole (the raw source and attachments are already in the blob store) and refused politely.
        if (!this.deps.lifecycle) throw new Error('solicitud retenida sin servicio de ciclo de vida configurado');
        const held = await this.deps.lifecycle.holdRequest(trx, this.caseInput(mail, facts, source, message, cc, threadIds), effect.reason, now);
        await insertLedger(trx, { ...this.ledgerBase(mail, source, sourceKey, now), outcome: 'accepted', effect: 'held', reason: effect.reason });
        heldId = held.id;
        return;
      }
      if (effect.kind === 'new_case') {
        const opened = await this.deps.cases.openCase(trx, this.caseInput(mail, facts, source, message, cc, threadIds));
        ticketId = opened.ticket.id;
        messageRowId = opened.messageRowId;
        ticketNumber = opened.ticket.number;
      } else {
        // The case as the context read it, in this same savepoint a moment ago: no second read.
        const seen = caseInContext(ctx, effect.ticketId);
        const ticket = seen ? withoutParticipants(seen) : await findTicketById(trx, effect.ticketId);
        if (!ticket) throw new Error(`caso ${effect.number} desapareció durante el proceso`);
        ticketId = ticket.id;
        ticketNumber = ticket.number;
        if (effect.kind === 'system_note') {
          const a = facts.automated;
          // Only what the bounce proves may stop mail (bounce-proof.ts); what it merely claims is recorded.
          const proven = facts.returned?.proven ?? [];
          const claimed = facts.returned?.claimed ?? failedRecipients(mail);
          const bounce = a?.kind === 'bounce' ? { hard: Boolean(a.hard), addressGone: Boolean(a.addressGone), recipients: proven, unproven: claimed.filter((x) => !proven.includes(x)), status: a.status } : undefined;
          messageRowId = await this.deps.cases.addSystemNote(trx, ticket, message, { bounce });
        } else {
          // A consultant's reply: either it cannot act (told why) or its commands act after the message is kept;
          // except `/cc`, which acts first, so that the people it adds get this very answer.
          const plan = effect.kind === 'follow_up' ? effect.consultant : undefined;
          const actor = facts.sender?.address ?? '';
          const people = plan?.feedback ? [] : plan?.commands.filter((c) => c.kind === 'participants') ?? [];
          if (people.length) await this.deps.cases.runCommands(trx, ticket, people, actor, now);
          // A customer's Cc joins the case only when the mail proved its origin (target.proof, follow-up.ts).
          const added = await this.deps.cases.addMessage(trx, ticket, { message, cc, ccAddedBy: facts.target?.proof, threadIds, reopen: effect.reopen });
          messageRowId = added.messageRowId;
          const rest = plan?.commands.filter((c) => c.kind !== 'participants') ?? [];
          if (plan?.feedback) await this.deps.cases.tellConsultant(trx, added.ticket, { to: actor, kind: plan.feedback.kind, items: plan.feedback.items, messageRowId, at: now });
          else if (rest.length) await this.deps.cases.runCommands(trx, added.ticket, rest, actor, now);
        }
      }
      await insertLedger(trx, {
        ...this.ledgerBase(mail, source, sourceKey, now), outcome: 'accepted', effect: effect.kind,
        reason: facts.messageIdReused ? 'message_id_reused' : facts.related?.reason, ticketId, messageRowId,
      });
    };
    await apply(trx);
    if (effect.kind === 'held') return { outcome: 'accepted', sourceKey, effect: 'held', reason: effect.reason, detail: `${effect.detail} (solicitud retenida #${heldId})` };
    return { outcome: 'accepted', sourceKey, effect: effect.kind, ticketNumber, reason: facts.related?.reason };
  }

  /** The case a new mail opens (or would open, for a held request: kept as it is and opened later). */
  private caseInput(mail: InboundMail, facts: Readonly<Facts>, source: MailSource, message: OpenCaseInput['message'], cc: string[], threadIds: string[]): OpenCaseInput {
    const sender = facts.sender!;
    return {
      subject: cleanSubject(mail.subject), requester: sender.address, requesterName: sender.name || undefined,
      organization: sender.organization, priority: facts.access?.priority ?? 'media', category: facts.access?.category,
      mailbox: source.kind === 'imap' ? source.account : source.kind, related: facts.related, cc, message, threadIds,
    };
  }

  /** The HTML and the attachments, extracted from the raw source and written without fsync (src/storage/blobs.ts);
   * the raw source itself, which we must never lose, commits with the mail's rows (src/storage/originals.ts).
   * Usually already written by the parser (`htmlSha256`, `sha256`). */
  private async storeBlobs(mail: InboundMail) {
    const { blobs, config } = this.deps;
    const htmlSha256 = mail.html ? mail.htmlSha256 ?? await blobs.put(mail.html, { derived: true }) : undefined;
    const attachments = [];
    const skipped: string[] = [];
    for (const a of mail.attachments) {
      if (a.size > config.limits.maxAttachmentBytes) {
        // Kept in the raw source, which is always stored; listed as not extracted.
        skipped.push(`${a.filename} (${a.size} bytes)`);
        continue;
      }
      attachments.push({ filename: a.filename, contentType: a.contentType, size: a.size, sha256: a.sha256 ?? await blobs.put(a.content ?? Buffer.alloc(0), { derived: true }), contentId: a.contentId, inline: a.inline });
    }
    return { rawSha256: mail.rawSha256, htmlSha256, attachments, skipped };
  }

  private messageFrom(mail: InboundMail, facts: Readonly<Facts>, stored: Awaited<ReturnType<IngestService['storeBlobs']>>, now: number, systemNote: boolean, consultant?: ConsultantPlan) {
    const role = systemNote ? 'system' : facts.sender?.role ?? 'customer';
    const fullText = this.work.fullTextOf(mail);
    let bodyText = systemNote ? fullText.slice(0, 20_000) : facts.visibleText ?? fullText;
    if (stored.skipped.length) bodyText += `\n\n[Adjuntos demasiado grandes, guardados solo en el original: ${stored.skipped.join(', ')}]`;
    return {
      role: role as 'customer' | 'consultant' | 'system', source: 'mail' as const,
      fromAddress: mail.from?.address ?? facts.sender?.address, fromName: mail.from?.name || undefined,
      to: mail.to.map((a) => a.address), cc: mail.cc.map((a) => a.address), messageId: mail.messageId, subject: mail.subject,
      bodyText, fullText, htmlSha256: stored.htmlSha256, rawSha256: stored.rawSha256,
      internal: systemNote || Boolean(consultant?.internal), verified: consultant?.verified ?? customerVerified(facts, systemNote), noteKind: systemNote ? facts.automated?.kind : undefined,
      sentAt: mail.date?.getTime(), createdAt: now, attachments: stored.attachments,
    };
  }

  private ledgerBase(mail: InboundMail, source: MailSource, sourceKey: string, now: number) {
    return { sourceKey, ...whereFrom(source), messageId: mail.messageId, contentHash: mail.contentHash, createdAt: now };
  }

  private async quarantine(trx: Knex.Transaction, raw: Buffer, rawSha: string, hash: string, source: MailSource, sourceKey: string, reason: ReasonCode, detail: string, head: { from?: string; subject?: string; messageId?: string }, now: number): Promise<IngestResult> {
    if (source.kind === 'replay') {
      // Still refused: the quarantine row stays held, with the new reason; no second row, no ledger row.
      await updateQuarantineReason(trx, source.quarantineId, reason, detail);
      return { outcome: 'rejected', sourceKey, reason, detail, quarantineId: source.quarantineId };
    }
    const quarantineId = await insertQuarantine(trx, {
      rawSha256: rawSha, size: raw.length, sourceKey, mailbox: whereFrom(source).mailbox,
      reason, detail, fromAddress: head.from, subject: head.subject, messageId: head.messageId, createdAt: now,
    });
    await insertLedger(trx, { sourceKey, ...whereFrom(source), messageId: head.messageId, contentHash: hash, outcome: 'rejected', reason, quarantineId, createdAt: now });
    // The notifiers hear of it inside this transaction (the outbound side answers politely): CaseEvent mail_rejected.
    await this.deps.cases.publish(trx, { type: 'mail_rejected', reason, detail, from: head.from, subject: head.subject, messageId: head.messageId, size: raw.length, quarantineId, now });
    return { outcome: 'rejected', sourceKey, reason, detail, quarantineId };
  }

  private async numberOf(ticketId?: number): Promise<number | undefined> {
    if (!ticketId) return undefined;
    return (await findTicketById(this.deps.db, ticketId))?.number;
  }

  private logFields(source: MailSource): Record<string, unknown> {
    if (source.kind === 'imap') return { mailbox: `${source.account}:${source.folder}`, uidvalidity: source.uidvalidity, uid: source.uid };
    return source.kind === 'replay' ? { mailbox: 'replay', quarantineId: source.quarantineId } : { mailbox: source.kind };
  }

  private report(result: IngestResult, fields: Record<string, unknown>, messageId?: string, err?: unknown): IngestResult {
    const line = { ...fields, messageId, ticket: result.ticketNumber, verdict: result.outcome, effect: result.effect, reason: result.reason, alreadyProcessed: result.alreadyProcessed || undefined };
    if (result.outcome === 'tempfail') this.log.warn({ ...line, err }, 'correo pendiente: se reintentará');
    else this.log.info(line, 'correo procesado');
    return result;
  }
}

/** A mail of a batch run without savepoints failed: the batch is rolled back and runs again, each mail in its own
 * savepoint (IngestService.ingestMany). */
class CarefulRunNeeded extends Error {
  constructor(cause: unknown) {
    super('un correo de la tanda falló: la tanda se repite con un savepoint por correo', { cause });
  }
}

/** Driver errors (connection refused, database locked, disk full, a deadlock broken) mean "try again", not "this
 * mail is bad". */
function isInfrastructureError(err: unknown): boolean {
  const code = (err as { code?: string })?.code ?? '';
  return isDbConflict(err) || /^(ECONN|ETIMEDOUT|EPIPE|ENOSPC|EIO|EACCES|EROFS|EMFILE|SQLITE_BUSY|SQLITE_LOCKED|SQLITE_IOERR|SQLITE_FULL|SQLITE_CANTOPEN|57P|08|53)/.test(code) ||
    /Knex: Timeout acquiring a connection|Connection terminated|database is locked/i.test(String((err as Error)?.message));
}

/** How many times a batch whose transaction PostgreSQL rolled back for a conflict runs again at once. */
const DB_CONFLICT_RETRIES = 3;

/** PostgreSQL gave up on the transaction to break a deadlock or a serialization conflict (40P01, 40001): e.g. two
 * instances' batches locked the same cases in opposite order. The whole batch runs again (DB_CONFLICT_RETRIES). */
function isDbConflict(err: unknown): boolean {
  return /^(40001|40P01)$/.test(String((err as { code?: string })?.code));
}

/** From, Subject and Message-ID of a mail we will not parse whole (too large, broken): for the quarantine list
 * and the polite reply the outbound side sends later. Reads at most the first 64 KB. */
async function headerSummary(raw: Buffer, simpleParser: InboundWork['simpleParser']): Promise<{ from?: string; subject?: string; messageId?: string }> {
  try {
    let end = raw.indexOf('\r\n\r\n');
    if (end < 0) end = raw.indexOf('\n\n');
    const head = raw.subarray(0, Math.min(end < 0 ? raw.length : end, 64 * 1024));
    const parsed = await simpleParser(Buffer.concat([head, Buffer.from('\r\n\r\n')]));
    const from = Array.isArray(parsed.from) ? parsed.from[0] : parsed.from;
    return { from: from?.value?.[0]?.address?.toLowerCase(), subject: parsed.subject?.slice(0, 500), messageId: parsed.messageId?.replace(/^<|>$/g, '') };
  } catch {
    return {};
  }
}

/** A mail whose preparation failed in a way that means "try later" (disk trouble, a parse to retry). */
type Unprepared = { index: number; source: MailSource; sourceKey: string; err: unknown };

/** A mail of a batch not found in the ledger, its preparation (parse) under way. */
type Prepared = { index: number; source: MailSource; sourceKey: string; job: Promise<Job> };

/** What one run of a batch's transaction did: the mails it ran, and the one it stopped at, unprepared. */
type BatchRun = { done: Array<{ job: Job; result: IngestResult; messageId?: string }>; unprepared?: Unprepared };

/** A mail of a group, ready for the transaction: parsed, or to be quarantined with its reason. */
type Job = { index: number; raw: Buffer; rawSha: string; source: MailSource; sourceKey: string; now: number } & (
  | { kind: 'parsed'; mail: InboundMail }
  | { kind: 'quarantine'; hash: string; reason: ReasonCode; detail: string; head: { from?: string; subject?: string; messageId?: string } }
);

/** Where a mail came from, as the ledger and the quarantine record it: `account:folder` and the UID for IMAP. */
function whereFrom(source: MailSource): { mailbox: string; uidvalidity?: number; uid?: number } {
  if (source.kind === 'imap') return { mailbox: `${source.account}:${source.folder}`, uidvalidity: source.uidvalidity, uid: source.uid };
  return { mailbox: source.kind };
}

/** A customer's mail counts as theirs when it opens a case (the case is that mail's own) or proves its origin on the
 * case it continues (follow-up.ts); an unproven follow-up is kept, marked unverified. */
function customerVerified(facts: Readonly<Facts>, systemNote: boolean): boolean {
  return systemNote || !facts.target || facts.sender?.role !== 'customer' || facts.target.proof !== undefined;
}

/** The case `id` as the mail's context read it (by tag, by headers, or from an embedded original). */
function caseInContext(ctx: FilterContext, id: number): TicketView | undefined {
  return [ctx.taggedTicket, ...ctx.referencedTickets, ...ctx.embeddedTickets].find((t) => t?.id === id);
}

/** What a mail's judgment reads of its case, compared with the case as it is now. */
function changedSince(seen: Ticket, now: Ticket): boolean {
  return seen.stage !== now.stage || seen.waitingOn !== now.waitingOn || seen.assignee !== now.assignee || seen.priority !== now.priority || seen.updatedAt !== now.updatedAt || seen.closedAt !== now.closedAt;
}

function withoutParticipants(view: TicketView): Ticket {
  const { participants: _participants, ...ticket } = view;
  return ticket;
}

/** The results in order, up to and including the first tempfail (nothing after it was recorded). */
function cutAtTempfail(results: IngestResult[]): IngestResult[] {
  const out: IngestResult[] = [];
  for (const r of results) {
    if (!r) break;
    out.push(r);
    if (r.outcome === 'tempfail') break;
  }
  return out;
}

export { MesaError };
