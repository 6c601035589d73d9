import { padded, placeholders, row, rows, rowsWhere, knexOf, type NarrowedTest, type Queryable } from '../sql.ts';
import { UnitOfWork } from '../unit-of-work.ts';
import { boundedMemo } from '../../memo.ts';
import { waitingOutbox } from './outbox-rows.ts';
import {
  asksAhead,
  budgetFromAhead,
  keepBudgetsRead,
  type AheadSpans,
  type BudgetAsk,
  type BudgetRead,
} from './outbox-ahead.ts';

/** The loop budget of automatic mail and the desk's alert limit: how much mail an address got lately. */

/** For the reads here that add the rows still waiting from memory (waitingOutbox): none is written first. */
const OUTBOX_COUNTED = { outbox: () => false };

/** loopBudgetOf's statement with and without the bounce stop: two fixed texts, so every mail runs one of two
 * prepared statements and none builds SQL text of its own. */
const BUDGET_COUNTS =
  'sum(case when "created_at" >= ? then 1 else 0 end) as "c0", ' +
  'sum(case when "created_at" >= ? then 1 else 0 end) as "c1" ' +
  'from "outbox" where "recipient" = ? and "automatic" = ? and "state" <> \'held\' and "created_at" >= ?';
const BUDGET_SQL = `select null as "suppressed", ${BUDGET_COUNTS}`;
const BUDGET_AND_STOP_SQL =
  'select (select "reason" from "mail_suppressions" where "address" = ? and "until" > ? limit 1) as "suppressed", ' +
  BUDGET_COUNTS;

/** The waiting rows that count against a limit on mail to `recipient`: to them and not held (tested before they are
 * decoded, waitingRows). */
const countingTo = (recipient: string): NarrowedTest => rowsWhere({ recipient }, (v) => v('state') !== 'held');

/**
 * What the loop budget asks about one address, in one statement (one scan of its recent mail): how many automatic
 * mails to it were (or will be) sent since `windowSince` and since `daySince` and, when `suppressedAt` is given, the
 * reason of a suppression in force then (findSuppression's). The aggregate always returns its one row, so the
 * suppression is read even with no mail. The same columns either way, read by the same code.
 *
 * Mail the ingest batch enqueued and that still waits for its flush (letOutboxWait) counts too, from memory: a
 * batch of automatic mail to one address meets the budget as mail enqueued one transaction at a time would. Counted
 * rather than flushed: a flush here would write every table's waiting rows for each new case, the round trips the
 * waiting saves.
 *
 * With `ahead` (the ingest's batch), the addresses of the mails ready after this one (expectBudgetAsks) are read in
 * the same statement, and later questions about them answer from memory (readBudgetsAhead).
 */
export async function loopBudgetOf(
  db: Queryable,
  recipient: string,
  windowSince: number,
  daySince: number,
  suppressedAt?: number,
  ahead?: AheadSpans,
): Promise<{ inWindow: number; inDay: number; suppressed?: string }> {
  const known = budgetFromAhead(db, recipient, windowSince, daySince, suppressedAt);
  if (known) return known;
  const asks = ahead ? asksAhead(db, ahead, recipient) : [];
  if (asks.length && db instanceof UnitOfWork) {
    await readBudgetsAhead(db, [{ recipient, windowSince, daySince, at: suppressedAt ?? Infinity }, ...asks]);
    const read = budgetFromAhead(db, recipient, windowSince, daySince, suppressedAt);
    if (read) return read;
  }
  const earliest = Math.min(windowSince, daySince);
  // Not written for this read (UnitOfWork): the rows waiting are counted below.
  const r: any =
    suppressedAt === undefined
      ? await row(db, BUDGET_SQL, [windowSince, daySince, recipient, true, earliest], OUTBOX_COUNTED)
      : await row(
          db,
          BUDGET_AND_STOP_SQL,
          [recipient, suppressedAt, windowSince, daySince, recipient, true, earliest],
          OUTBOX_COUNTED,
        );
  let inWindow = Number(r?.c0 ?? 0);
  let inDay = Number(r?.c1 ?? 0);
  for (const w of waitingOutbox(db, countingTo(recipient))) {
    if (!w.automatic) continue;
    if (w.createdAt >= windowSince) inWindow++;
    if (w.createdAt >= daySince) inDay++;
  }
  return { inWindow, inDay, suppressed: r?.suppressed ?? undefined };
}

/**
 * readBudgetsAhead's statement for `n` addresses: per address, the count of its automatic not-held mail since the
 * latest start of each window (k 0), the created_at of such mail between the earliest and the latest start of either
 * (k 1), and its suppression ending after the earliest time asked (k 2).
 */
const budgetsAheadSql = boundedMemo(
  8,
  (n: number) => String(n),
  (n: number): string => {
    const list = placeholders(1, n);
    const ours = `from "outbox" where "recipient" in ${list} and "automatic" = ? and "state" <> 'held'`;
    return [
      'select 0 as "k", "recipient" as "a", sum(case when "created_at" >= ? then 1 else 0 end) as "c0", ' +
        'sum(case when "created_at" >= ? then 1 else 0 end) as "c1", cast(null as text) as "r" ' +
        `${ours} and "created_at" >= ? group by "recipient"`,
      `union all select 1, "recipient", "created_at", null, null ${ours} ` +
        'and (("created_at" >= ? and "created_at" < ?) or ("created_at" >= ? and "created_at" < ?))',
      'union all select 2, "address", "until", null, "reason" from "mail_suppressions" ' +
        `where "address" in ${list} and "until" > ?`,
    ].join(' ');
  },
);

/** Addresses read ahead in one statement: in powers of two (the list padded with its last value), a few texts. */
const AHEAD_MOST = 64;

/**
 * Reads what the budget asks about these addresses in one statement and keeps it in the unit (keepBudgetsRead),
 * for any question whose windows start between the earliest and the latest of `asks`: the mails of one batch have
 * times a moment apart. The unit's own rows still waiting are kept as unseen; those it enqueues later count from
 * memory too (enqueuedAhead). What other instances commit after this read is not in it, as it would not be in a
 * read a moment earlier: each read is READ COMMITTED's view at its statement, and the budget never was a lock.
 */
async function readBudgetsAhead(uow: UnitOfWork, asks: readonly BudgetAsk[]): Promise<void> {
  const addresses: string[] = [];
  for (const a of asks)
    if (!addresses.includes(a.recipient) && addresses.length < AHEAD_MOST) addresses.push(a.recipient);
  const span = {
    windowFrom: Math.min(...asks.map((a) => a.windowSince)),
    windowTo: Math.max(...asks.map((a) => a.windowSince)),
    dayFrom: Math.min(...asks.map((a) => a.daySince)),
    dayTo: Math.max(...asks.map((a) => a.daySince)),
    stopFrom: Math.min(...asks.map((a) => a.at)),
  };
  const list = padded(addresses.slice());
  const size = list.length;
  const found = await rows(
    uow,
    budgetsAheadSql(size),
    [
      span.windowTo,
      span.dayTo,
      ...list,
      true,
      Math.min(span.windowTo, span.dayTo),
      ...list,
      true,
      span.windowFrom,
      span.windowTo,
      span.dayFrom,
      span.dayTo,
      ...list,
      span.stopFrom,
    ],
    // The unit's waiting rows are kept below as unseen: they need not be written for this read.
    OUTBOX_COUNTED,
  );
  const reads = new Map<string, BudgetRead>();
  for (const a of addresses) reads.set(a, { ...span, inWindow: 0, inDay: 0, edge: [] });
  for (const r of found) {
    const read = reads.get(r.a);
    const k = Number(r.k);
    if (!read) continue;
    if (k === 0) {
      read.inWindow = Number(r.c0 ?? 0);
      read.inDay = Number(r.c1 ?? 0);
    } else if (k === 1) read.edge.push(Number(r.c0));
    else read.stop = { reason: r.r, until: Number(r.c0) };
  }
  const unseen: Array<{ recipient: string; createdAt: number }> = [];
  for (const w of waitingOutbox(uow, (v) => reads.has(v('recipient') as string)))
    if (w.automatic && w.state !== 'held') unseen.push({ recipient: w.recipient, createdAt: w.createdAt });
  keepBudgetsRead(uow, reads, unseen);
}

/** How many mails of these kinds to `recipient` were (or will be) sent since `since`: the desk's alert limit. Mail
 * still waiting for the batch's flush counts from memory, as in loopBudgetOf. */
export async function countRecentOfKinds(
  queryable: Queryable,
  recipient: string,
  kinds: readonly string[],
  since: number,
): Promise<number> {
  const db = knexOf(queryable);
  const r = await db('outbox')
    .where({ recipient })
    .andWhere('created_at', '>=', since)
    .whereIn('kind', [...kinds])
    .andWhereNot({ state: 'held' })
    .count({ c: '*' })
    .first();
  let count = Number(r?.c ?? 0);
  for (const w of waitingOutbox(queryable, countingTo(recipient)))
    if (w.createdAt >= since && kinds.includes(w.kind)) count++;
  return count;
}
