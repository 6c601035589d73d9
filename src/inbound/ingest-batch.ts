import type { UnitOfWork } from '../db/unit-of-work.ts';
import { forgetDeliveriesAhead, isLedgerKeyTaken, lookAheadDeliveries } from '../db/repos/ledger.ts';
import { letOutboxWait } from '../db/repos/outbox.ts';
import { expectBudgetAsks } from '../db/repos/outbox-ahead.ts';
import { expectNewRows } from '../db/repos/ids-ahead.ts';
import { expectNotices } from '../db/repos/notice-thread-read.ts';
import { lookAheadThreads, type ThreadAsk } from '../db/repos/threads-ahead.ts';
import { isMesaError } from '../errors.ts';
import { expectQuestions } from '../services/suggestions-ahead.ts';
import { BlobStore } from '../storage/blobs.ts';
import { keepOriginals, type Original } from '../storage/originals.ts';
import { isInfrastructureError } from './driver-errors.ts';
import type { ReasonCode } from './filters/types.ts';
import { threadAsk } from './context.ts';
import { judgeAndApply } from './ingest-effects.ts';
import type { IngestContext, IngestItem, IngestResult } from './ingest-types.ts';
import type { InboundMail, MailSource } from './mail.ts';
import { rawOfFailure } from './parser.ts';
import { headerSummary, quarantine } from './quarantine.ts';

const REASON_BY_CODE: Record<string, ReasonCode> = {
  MAIL_TOO_LARGE: 'too_large',
  MAIL_UNPARSEABLE: 'unparseable',
  MAIL_PARSE_TIMEOUT: 'parse_timeout',
  MAIL_EMPTY: 'empty',
  MAIL_NO_SENDER: 'no_sender',
};

/**
 * The batch's mails in order inside its transaction, as far as they go: up to a mail not prepared yet (it waits,
 * and so do the ones after it) or a tempfail; then the rows they gathered (ledger, effect claims, case events, thread
 * ids: one INSERT per table for the batch, UnitOfWork.gather) and the raw sources of the mails kept (a case's message,
 * a held request, a quarantined mail), which the rows just written name by hash, in one statement.
 */
export async function runBatch(
  service: IngestContext,
  uow: UnitOfWork,
  prepared: ReadonlyArray<Prepared>,
  careful: boolean,
): Promise<BatchRun> {
  const done: BatchRun['done'] = [];
  const originals: Original[] = [];
  let unprepared: Unprepared | undefined;
  uow.gather();
  // The batch's mail too, unless carefully: there each row must know at once whether its key is new (letOutboxWait).
  if (!careful) letOutboxWait(uow);
  // The mails parsed before their turn: their earlier deliveries and the cases they name are read together, ahead
  // (lookAheadDeliveries, lookAheadThreads), and so are their new cases' suggestions (expectQuestions), the loop
  // budget of their senders and the threads of their cases' notices, by the first notice that reads them
  // (expectBudgetAsks, expectNotices). Not carefully: each mail there reads its own cases in its savepoint, searches
  // alone, and each notice reads its budget and thread alone (letOutboxWait is off: its rows are written at once).
  // What each mail parsed ahead will ask, worked out once when it is ready, not again for every mail before it.
  const ready: Array<InboundMail | undefined> = [];
  const asks: Array<ThreadAsk | undefined> = [];
  const questions: Array<string[] | undefined> = [];
  const senders: Array<{ address: string; now: number } | undefined> = [];
  prepared.forEach((p, i) =>
    p.job.then(
      (j) => {
        if (j.kind !== 'parsed') return;
        ready[i] = j.mail;
        if (careful) return;
        asks[i] = threadAsk(j.mail);
        questions[i] = j.mail.questionTerms;
        // Lower-cased as the notices to them are addressed.
        if (j.mail.from?.address) senders[i] = { address: j.mail.from.address.toLowerCase(), now: j.now };
      },
      () => undefined,
    ),
  );
  for (const [i, p] of prepared.entries()) {
    let job: Job;
    try {
      job = await p.job;
    } catch (err) {
      // Disk trouble, a parse that must be retried.
      unprepared = { index: p.index, source: p.source, sourceKey: p.sourceKey, err };
      break;
    }
    if (job.kind === 'parsed') {
      await lookAheadDeliveries(uow, job.mail, readyAfter(ready, i));
      if (!careful) {
        const asksAfter = readyAfter(asks, i);
        await lookAheadThreads(uow, asks[i] ?? threadAsk(job.mail), asksAfter);
        expectNotices(uow, asksAfter);
        expectQuestions(uow, readyAfter(questions, i));
        expectBudgetAsks(uow, readyAfter(senders, i));
      }
    }
    // This mail and the ones after it may each keep a message and open a case: their rows wait for the flush too
    // (ids-ahead.ts), a case's only where the outbox's rows, which name it, wait as well (not carefully).
    expectNewRows(uow, prepared.length - i, !careful);
    const { result, messageId } = await run(service, uow, job, careful);
    done.push({ job, result, messageId });
    // A source too large to read was kept whole before (KeptSource): `raw` is only its start.
    if ((result.outcome === 'accepted' || result.outcome === 'rejected') && !(job.kind === 'quarantine' && job.kept))
      originals.push({ sha256: job.rawSha, raw: job.raw });
    if (result.outcome === 'tempfail') break;
  }
  // Carefully, each mail wrote its rows at the end of its savepoint; what is left is the quarantined mails' ledger.
  await uow.flush().catch((err) => {
    // A row refused here (another delivery of the same content claimed it first, a mail whose idempotency key the
    // outbox already has) belongs to one mail of the batch: run the batch again, each mail in its savepoint, where
    // that mail alone meets it.
    if (careful || (isMesaError(err) && err.retryable) || isInfrastructureError(err)) throw err;
    throw new CarefulRunNeeded(err);
  });
  await keepOriginals(uow, service.deps.blobs, originals, service.now());
  return { done, unprepared };
}

/**
 * Before the mail's turn in the transaction: the size check and parsing (`parsed`: started by parseAhead). A mail
 * that will be quarantined (too large, unparseable) is prepared as such; one too large to read (`kept`) from its
 * first bytes, `raw`, which are also what its content hash covers.
 */
export async function prepare(
  service: IngestContext,
  index: number,
  raw: Buffer,
  known: string | undefined,
  source: MailSource,
  sourceKey: string,
  parsed?: Promise<InboundMail>,
  kept?: IngestItem['kept'],
): Promise<Job> {
  // Announced over the limit by the server, but read within it (a server's RFC822.SIZE may count line ends its own
  // way): small enough to read whole after all.
  if (kept && kept.size <= service.deps.config.limits.maxMessageBytes)
    return prepare(service, index, await service.deps.blobs.get(kept.sha256), kept.sha256, source, sourceKey);
  const now = service.now();
  const base = { index, raw, source, sourceKey, now };
  const size = kept?.size ?? raw.length;
  if (size > service.deps.config.limits.maxMessageBytes) {
    const head = await headerSummary(raw, service.work.simpleParser);
    return {
      ...base,
      rawSha: kept?.sha256 ?? known ?? BlobStore.sha256(raw),
      kind: 'quarantine',
      size,
      kept: !!kept,
      hash: service.work.contentHash(raw),
      reason: 'too_large',
      detail: `${size} bytes > MAX_MESSAGE_BYTES ${service.deps.config.limits.maxMessageBytes}`,
      head,
    };
  }
  try {
    const mail = await (parsed ?? service.parser.parse(raw, known));
    // The parse thread may have taken a large mail's bytes over: they are the mail's `raw` now.
    return { ...base, raw: mail.raw, rawSha: mail.rawSha256, kind: 'parsed', mail };
  } catch (err) {
    if (!isMesaError(err) || err.retryable) throw err;
    const bytes = rawOfFailure(err) ?? raw;
    const head = await headerSummary(bytes, service.work.simpleParser);
    return {
      ...base,
      raw: bytes,
      rawSha: known ?? BlobStore.sha256(bytes),
      kind: 'quarantine',
      size: bytes.length,
      hash: service.work.contentHash(bytes),
      reason: REASON_BY_CODE[err.code] ?? 'unparseable',
      detail: err.detail ?? err.message,
      head,
    };
  }
}

/**
 * One mail inside the group's transaction. Errors that mean "try later" abort the whole group. Not `careful`: the
 * mail runs without a savepoint of its own, and any other error aborts the group too (CarefulRunNeeded), which
 * then runs again carefully.
 */
async function run(
  service: IngestContext,
  uow: UnitOfWork,
  job: Job,
  careful: boolean,
): Promise<{ result: IngestResult; messageId?: string }> {
  if (job.kind === 'quarantine') {
    return {
      result: await quarantine(
        service,
        uow,
        job.size,
        job.rawSha,
        job.hash,
        job.source,
        job.sourceKey,
        job.reason,
        job.detail,
        job.head,
        job.now,
      ),
      messageId: job.head.messageId,
    };
  }
  const { mail } = job;
  if (!careful) {
    try {
      return {
        result: await uow.scope((mailUow) => judgeAndApply(service, mailUow, mail, job.source, job.sourceKey, job.now)),
        messageId: mail.messageId,
      };
    } catch (err) {
      if ((isMesaError(err) && err.retryable) || isInfrastructureError(err) || isLedgerKeyTaken(err)) throw err;
      throw new CarefulRunNeeded(err);
    }
  }
  for (let attempt = 0; ; attempt++) {
    try {
      // A savepoint: if this mail fails, only its own writes roll back.
      const result = await uow.savepoint((mailUow) =>
        judgeAndApply(service, mailUow, mail, job.source, job.sourceKey, job.now),
      );
      return { result, messageId: mail.messageId };
    } catch (err) {
      // Another delivery of the same content won the race for the effect: run again, it is now a duplicate.
      // Match the constraint, not the SQL text: knex puts the whole INSERT (which names source_key) in the message.
      if (attempt === 0 && /ingest_effects\.content_hash|ingest_effects_pkey/.test(String((err as Error).message))) {
        forgetDeliveriesAhead(uow);
        continue;
      }
      if (isMesaError(err) && err.retryable) throw err;
      if (isInfrastructureError(err)) throw err;
      // Another process recorded this very source meanwhile: not this mail's fault, and its ledger row is the answer
      // (IngestService.ingestMany offers the batch again).
      if (isLedgerKeyTaken(err)) throw err;
      // A bug tripped over this one mail: keep it, say why, and let the mailbox go on.
      service.log.error({ err, sourceKey: job.sourceKey }, 'fallo inesperado al procesar; el mensaje va a cuarentena');
      return {
        result: await quarantine(
          service,
          uow,
          job.raw.length,
          job.rawSha,
          mail.contentHash,
          job.source,
          job.sourceKey,
          'internal_error',
          String((err as Error).message).slice(0, 500),
          { from: mail.from?.address, subject: mail.subject, messageId: mail.messageId },
          job.now,
        ),
        messageId: mail.messageId,
      };
    }
  }
}

/** A mail of a batch run without savepoints failed: the batch is rolled back and runs again, each mail in its own
 * savepoint (IngestService.ingestMany). */
export class CarefulRunNeeded extends Error {
  constructor(cause: unknown) {
    super('un correo de la tanda falló: la tanda se repite con un savepoint por correo', { cause });
  }
}

/** A mail whose preparation failed in a way that means "try later" (disk trouble, a parse to retry). */
export type Unprepared = { index: number; source: MailSource; sourceKey: string; err: unknown };

/** A mail of a batch not found in the ledger, its preparation (parse) under way. */
export type Prepared = { index: number; source: MailSource; sourceKey: string; job: Promise<Job> };

/** What one run of a batch's transaction did: the mails it ran, and the one it stopped at, unprepared. */
export type BatchRun = { done: Array<{ job: Job; result: IngestResult; messageId?: string }>; unprepared?: Unprepared };

/** A mail of a group, ready for the transaction: parsed, or to be quarantined with its reason. */
export type Job = { index: number; raw: Buffer; rawSha: string; source: MailSource; sourceKey: string; now: number } & (
  | { kind: 'parsed'; mail: InboundMail }
  | {
      kind: 'quarantine';
      /** The source's size: `raw`'s, or the kept source's (then `raw` is its start and `kept` is set). */
      size: number;
      kept?: boolean;
      hash: string;
      reason: ReasonCode;
      detail: string;
      head: { from?: string; subject?: string; messageId?: string };
    }
);

/** The mails (or what they ask) after the `i`-th already parsed, in order. */
function readyAfter<T>(ready: ReadonlyArray<T | undefined>, i: number): T[] {
  return ready.slice(i + 1).filter((m): m is T => !!m);
}

/** The results in order, up to and including the first tempfail (nothing after it was recorded). */
export function cutAtTempfail(results: IngestResult[]): IngestResult[] {
  const out: IngestResult[] = [];
  for (const r of results) {
    if (!r) break;
    out.push(r);
    if (r.outcome === 'tempfail') break;
  }
  return out;
}
