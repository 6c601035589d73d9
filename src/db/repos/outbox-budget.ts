import { row, rows, knexOf, type Queryable } from '../sql.ts';
import { boundedMemo } from '../../memo.ts';
import { waitingThreadRows } from './case-messages.ts';

/** The loop budget and bounce stops of automatic mail, and the reads that thread a mail into its case. */

const n = (v: unknown) => (v === null || v === undefined ? undefined : Number(v));

/** loopBudgetOf's statement with and without the bounce stop: two texts, built once (no map() and join() per
 * mail, whose inlined form made an array of another kind and threw the optimized code away once). */
const BUDGET_COUNTS =
  'sum(case when "created_at" >= ? then 1 else 0 end) as "c0", sum(case when "created_at" >= ? then 1 else 0 end) as "c1" from "outbox" where "recipient" = ? and "automatic" = ? and "state" <> \'held\' and "created_at" >= ?';
const BUDGET_SQL = `select null as "suppressed", ${BUDGET_COUNTS}`;
const BUDGET_AND_STOP_SQL = `select (select "reason" from "mail_suppressions" where "address" = ? and "until" > ? limit 1) as "suppressed", ${BUDGET_COUNTS}`;

/**
 * What the loop budget asks about one address, in one statement (one scan of its recent mail): how many automatic
 * mails to it were (or will be) sent since `windowSince` and since `daySince` and, when `suppressedAt` is given, the
 * reason of a suppression in force then (findSuppression's). The aggregate always returns its one row, so the
 * suppression is read even with no mail. The same columns either way: one shape of row for the code that reads it.
 */
export async function loopBudgetOf(
  db: Queryable,
  recipient: string,
  windowSince: number,
  daySince: number,
  suppressedAt?: number,
): Promise<{ inWindow: number; inDay: number; suppressed?: string }> {
  const earliest = Math.min(windowSince, daySince);
  const r: any =
    suppressedAt === undefined
      ? await row(db, BUDGET_SQL, [windowSince, daySince, recipient, true, earliest])
      : await row(db, BUDGET_AND_STOP_SQL, [recipient, suppressedAt, windowSince, daySince, recipient, true, earliest]);
  return { inWindow: Number(r?.c0 ?? 0), inDay: Number(r?.c1 ?? 0), suppressed: r?.suppressed ?? undefined };
}

/** How many mails of these kinds to `recipient` were (or will be) sent since `since`: the desk's alert limit. */
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
  return Number(r?.c ?? 0);
}

/**
 * Of the mail we sent to `recipients`, the rows whose Message-ID is one of `messageIds`: which of them a bounce's
 * returned headers prove we sent. Read through the (recipient, created_at) index: the ids alone have none.
 */
export async function sentMailByIds(
  queryable: Queryable,
  recipients: readonly string[],
  messageIds: readonly string[],
): Promise<Array<{ messageId: string; recipient: string; ticketId?: number }>> {
  const db = knexOf(queryable);
  if (!recipients.length || !messageIds.length) return [];
  const found = await db('outbox')
    .select('message_id', 'recipient', 'ticket_id')
    .whereIn('recipient', recipients.slice(0, 50))
    .whereIn('message_id', messageIds.slice(0, 50))
    .whereIn('state', ['sent', 'sending']);
  return found.map((r: any) => ({ messageId: r.message_id, recipient: r.recipient, ticketId: n(r.ticket_id) }));
}

export interface ThreadRow {
  message_id: string;
  created_at: number;
}

/** threadOf's statement for one limit (an integer from the code, never from outside): one SQL text per limit, so the
 * prepared-statement cache keeps it. */
const threadSql = boundedMemo(
  8,
  (limit: number) => String(limit),
  (limit: number): string => {
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new Error(`límite inválido para el hilo: ${limit}`);
    return [
      'select * from (select 0 as "k", "id", "message_id", "created_at" from "messages" where "ticket_id" = ? and "message_id" is not null order by "id" asc limit 1) as "r"',
      `union all select * from (select 1 as "k", "id", "message_id", "created_at" from "messages" where "ticket_id" = ? and "from_address" = ? and "message_id" is not null order by "id" desc limit ${limit}) as "t"`,
      `union all select * from (select 2 as "k", "id", "message_id", "created_at" from "outbox" where "ticket_id" = ? and "recipient" = ? and "state" <> 'held' order by "id" desc limit ${limit}) as "o"`,
    ].join(' ');
  },
);

/**
 * What threading a mail to `recipient` on a case reads, in one statement: the Message-ID of the case's first
 * message that has one, and the latest `limit` messages from the recipient and of our mail to them that was not
 * held, each newest first.
 */
export async function threadOf(
  db: Queryable,
  ticketId: number,
  recipient: string,
  limit: number,
): Promise<{ root?: string; theirs: ThreadRow[]; ours: ThreadRow[] }> {
  // Each part keeps its ORDER BY and LIMIT inside a derived table (SQLite allows neither on a UNION's members). The
  // limit is written into the SQL, not bound: SQLite (3.53) plans a bound LIMIT for its value, and so prepares the
  // statement again every time that parameter is bound, i.e. at every run (see threadSql).
  // The case's messages still waiting for the ingest batch's flush join what was read, rather than being written
  // first for this read (`() => false`).
  const found = await rows(db, threadSql(limit), [ticketId, ticketId, recipient, ticketId, recipient], {
    messages: () => false,
  });
  for (const w of waitingThreadRows(db, ticketId)) {
    found.push({ k: 0, ...w });
    if (w.from_address === recipient) found.push({ k: 1, ...w });
  }
  // Sorted newest first, then split: loops into array literals (one kind of array, empty or not; see the notifier).
  found.sort((a, b) => Number(b.id) - Number(a.id));
  const parts: [ThreadRow[], ThreadRow[], ThreadRow[]] = [[], [], []];
  for (const r of found) parts[Number(r.k)]?.push({ message_id: r.message_id, created_at: r.created_at });
  return { root: parts[0].at(-1)?.message_id, theirs: parts[1].slice(0, limit), ours: parts[2] };
}

/** The held reason of mail stopped by a bounce (enqueue's and the claim's alike), within the column's 64 characters. */
export const bounceHoldReason = (suppression: string): string => `rebote: ${suppression}`.slice(0, 64);

/** A claimed row that was not sent: its recipient's bounce stop came into force after the row was enqueued. */
export async function findSuppression(
  db: Queryable,
  address: string,
  now: number,
): Promise<{ reason: string; until: number } | undefined> {
  const r = await row(
    db,
    'select "reason", "until" from "mail_suppressions" where "address" = ? and "until" > ? limit 1',
    [address, now],
  );
  return r ? { reason: r.reason, until: Number(r.until) } : undefined;
}

export async function suppress(
  queryable: Queryable,
  s: { address: string; reason: string; ticketId?: number; until: number; now: number },
): Promise<void> {
  const db = knexOf(queryable);
  await db('mail_suppressions')
    .insert({ address: s.address, reason: s.reason, ticket_id: s.ticketId ?? null, until: s.until, created_at: s.now })
    .onConflict('address')
    .merge({ reason: s.reason, ticket_id: s.ticketId ?? null, until: s.until, created_at: s.now });
}
