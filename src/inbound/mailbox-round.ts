import type { ImapFlow } from 'imapflow';
import type { Knex } from 'knex';
import type { MailboxConfig } from '../config.ts';
import { folderKey } from '../config-mailboxes.ts';
import { MesaError } from '../errors.ts';
import { getMailboxState, saveMailboxState, stateKey } from '../db/repos/mailbox-state.ts';
import type { Logger } from '../logger.ts';
import { planBatches, readNext } from './imap-batches.ts';
import { backlogBefore, firstReadLastUid } from './mailbox-backlog.ts';
import type { IngestService } from './ingest.ts';
import type { FetchedSource, IngestResult } from './ingest-types.ts';

/**
 * One pass over a mailbox: every UID above `mailbox_state.last_uid`, in ascending order, ingested batch by batch.
 * last_uid only moves past a mail whose ingest returned a final outcome, and a mail is moved to the processed folder
 * only after its effect committed; a UIDVALIDITY change (RFC 3501 §2.3.1.1) restarts from UID 1. The first read of a
 * mailbox starts at its recent mail (mailbox-backlog.ts).
 */

export type RoundResult = 'done' | 'tempfail' | 'stopped';

/** What the poller hands to ingest: a batch at once, optionally its sources to parse ahead of the transaction, and a
 * mail too large to read whole to be kept as it streams (SourceKeeper). */
export type RoundIngest = Pick<IngestService, 'ingestMany' | 'tooLargeToRead' | 'keepTooLarge' | 'readSource'> &
  Partial<Pick<IngestService, 'parseAhead'>>;

/** What a round needs of its poller. */
export interface RoundContext {
  db: Knex;
  ingest: RoundIngest;
  mailbox: MailboxConfig;
  log: Logger;
  /** Stopping, or no longer holding the lease: finish the mail in hand and leave the round. */
  halted(): boolean;
  batchCount: number;
  sizeChunk: number;
}

/** One pass over the mailbox: every UID above last_uid, in order. */
export async function readRound(ctx: RoundContext, client: ImapFlow): Promise<RoundResult> {
  const name = stateKey(ctx.mailbox);
  const now = Date.now();
  await saveMailboxState(ctx.db, name, { lastPollAt: now });
  // SELECT each round: it is what reports a new UIDVALIDITY if the mailbox was recreated meanwhile.
  const box = await client.mailboxOpen(ctx.mailbox.mailbox).catch((err: unknown) => {
    // The server is there and took the login; the folder of the configuration is not (imapflow's `mailboxMissing`,
    // RFC 5530's NONEXISTENT). Said as such, and retried (someone may create it), not as a server that is down.
    const e = err as { mailboxMissing?: boolean; serverResponseCode?: string; responseText?: string };
    if (!e.mailboxMissing && e.serverResponseCode !== 'NONEXISTENT') throw err;
    const said = e.responseText ? `: ${e.responseText}` : '';
    const detail = `«${ctx.mailbox.mailbox}» (revise ${folderKey(ctx.mailbox)})${said}`;
    throw new MesaError('IMAP_FOLDER_MISSING', detail, { cause: err });
  });
  const uidvalidity = Number(box.uidValidity);
  const state = await getMailboxState(ctx.db, name);
  let lastUid = state?.lastUid ?? 0;
  if (state?.uidvalidity === undefined) {
    // The first read: only the mail of the last MAILBOX_BACKLOG_DAYS days (mailbox-backlog.ts).
    const before = backlogBefore(ctx.mailbox.backlogDays, now);
    lastUid = await firstReadLastUid(client, box, before);
    if (lastUid > 0)
      ctx.log.info(
        { lastUid, before: new Date(before!).toISOString() },
        'primera lectura del buzón: el correo que ya estaba y llegó antes de MAILBOX_BACKLOG_DAYS queda en el buzón ' +
          'sin abrir casos',
      );
    await saveMailboxState(ctx.db, name, { uidvalidity, lastUid, backlogBefore: before });
  } else if (state.uidvalidity !== uidvalidity) {
    ctx.log.warn(
      { before: state.uidvalidity, now: uidvalidity },
      'UIDVALIDITY cambió: se relee el buzón desde el principio (el registro evita duplicados)',
    );
    lastUid = 0;
    await saveMailboxState(ctx.db, name, { uidvalidity, lastUid });
  }

  // "N:*" always matches the highest UID even when it is below N (RFC 3501 §6.4.8), hence the filter.
  const found = box.exists === 0 ? [] : await client.search({ uid: `${lastUid + 1}:*` }, { uid: true });
  const uids = (found || []).filter((u) => u > lastUid).sort((a, b) => a - b);
  if (uids.length) ctx.log.debug({ count: uids.length, from: uids[0] }, 'correos nuevos');

  // Sources come in batches (one FETCH per batch instead of one round trip per mail), each batch is ingested in one
  // group commit, and last_uid is written once per batch. A crash between the commit and last_uid re-reads the
  // batch: its ledger rows (looked up by source key before anything else) make it a no-op, so exactly-once holds.
  let saved = lastUid;
  const progress = async () => {
    if (lastUid !== saved) await saveMailboxState(ctx.db, name, { lastUid });
    saved = lastUid;
  };
  // Each batch is read from the server while the one before it is ingested (at most two batches in memory), also
  // across the runs of sizeChunk UIDs that planBatches() plans, so the parse thread never waits for a round trip.
  const plan = planBatches(client, uids, ctx.sizeChunk, ctx.batchCount, ctx.ingest);
  let next = readNext(client, plan, ctx.ingest);
  for (let ahead = await next; ahead; ahead = await next) {
    if (ctx.halted()) return 'stopped';
    const { batch } = ahead;
    const sources = await ahead.sources;
    // Parsing starts now for this batch (unless it already has), in UID order (IngestService.parseAhead)…
    ctx.ingest.parseAhead?.(parseableAhead(sources));
    // The next batch is read while this one is ingested: the server sends it while Mesa parses and writes. Its
    // failure surfaces when it is awaited, in the next turn; after a tempfail or a stop it is simply dropped
    // (nothing was done with it, the next round reads it again).
    next = readNext(client, plan, ctx.ingest);
    // …and for the next one as soon as it is here, behind this one: the parse thread works through it while
    // this batch commits, and the next transaction finds its first mails parsed.
    next
      .then((following) => following?.sources.then((got) => ctx.ingest.parseAhead?.(parseableAhead(got))))
      .catch(() => undefined);
    // Expunged by someone between SEARCH and FETCH: no source, nothing to ingest.
    const present = batch.filter((uid) => sources.has(uid));
    // The whole batch in one group commit (IngestService.ingestMany); results in order, cut at a tempfail.
    const results: IngestResult[] = present.length
      ? await ctx.ingest.ingestMany(
          present.map((uid) => ({
            ...sources.get(uid)!,
            source: { kind: 'imap', account: ctx.mailbox.name, folder: ctx.mailbox.mailbox, uidvalidity, uid },
          })),
        )
      : [];
    sources.clear();
    const committed = present.slice(0, results.filter((r) => r.outcome !== 'tempfail').length);
    // The effects and their ledger rows are committed: only now may those mails leave the mailbox (one MOVE).
    if (ctx.mailbox.processedFolder && committed.length)
      await client.messageMove(committed.join(','), ctx.mailbox.processedFolder, { uid: true });
    const failed = results.find((r) => r.outcome === 'tempfail');
    if (failed) {
      const uid = present[results.indexOf(failed)];
      lastUid = Math.max(lastUid, ...batch.filter((u) => u < uid));
      await progress();
      await recordMailboxError(ctx, `correo UID ${uid} pendiente: ${failed.detail ?? failed.reason ?? 'tempfail'}`);
      return 'tempfail';
    }
    lastUid = batch.at(-1)!;
    await progress();
    if (ctx.halted()) return 'stopped';
  }
  await saveMailboxState(ctx.db, name, { lastSuccessAt: Date.now(), lastError: undefined, errorCount: 0 });
  return 'done';
}

/** The sources the parse thread can take ahead: not the start of a too-large mail, which is refused unparsed. */
export function parseableAhead(sources: Map<unknown, FetchedSource>): Buffer[] {
  return [...sources.values()].filter((f) => !f.kept).map((f) => f.raw);
}

/** Records a failure in mailbox_state, where the operator sees it; a database that cannot take it only logs. */
export async function recordMailboxError(
  ctx: Pick<RoundContext, 'db' | 'mailbox' | 'log'>,
  message: string,
): Promise<void> {
  try {
    const state = await getMailboxState(ctx.db, stateKey(ctx.mailbox));
    await saveMailboxState(ctx.db, stateKey(ctx.mailbox), {
      lastError: message.slice(0, 1000),
      errorCount: (state?.errorCount ?? 0) + 1,
      lastPollAt: Date.now(),
    });
  } catch (err) {
    ctx.log.warn({ err }, 'no se pudo registrar el error del buzón en la base de datos');
  }
}
