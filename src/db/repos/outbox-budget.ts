import { row, rows, rowsWhere, knexOf, waitingRows, type Queryable } from '../sql.ts';
import { generationsOf } from './links.ts';
import { boundedMemo } from '../../memo.ts';
import { waitingOutbox } from './outbox-rows.ts';
import { forgetBudgetAhead } from './outbox-ahead.ts';
import { waitingThreadRows } from './case-messages.ts';

/** The bounce stops of automatic mail, and the reads that thread a mail into its case (the loop budget:
 * outbox-loop-budget.ts). */

const n = (v: unknown) => (v === null || v === undefined ? undefined : Number(v));

/** For the reads here that add the rows still waiting from memory (waitingThreadRows and waitingOutbox in threadFrom,
 * the links in threadRows): none is written first. */
const THREAD_COUNTED = { outbox: () => false, messages: () => false };

/**
 * Of the mail we sent to `recipients`, the rows whose Message-ID is one of `messageIds`: which of them a bounce's
 * returned headers prove we sent. Read through the (recipient, created_at) index: the ids alone have none. Rows
 * waiting for the batch's flush are left out rightly: they are pending or held, never sent.
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
 * prepared-statement cache keeps it. With `links`, the recipient's link generations on the case follow as rows of
 * kind 3 (generation as "id", expires_at as "created_at"): the read of a mail that carries the case's link. */
const threadSql = boundedMemo(
  8,
  (limit: number, links: boolean) => `${limit}:${links}`,
  (limit: number, links: boolean): string => {
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new Error(`límite inválido para el hilo: ${limit}`);
    const none = 'cast(null as bigint) as "revoked_at"';
    return [
      `select * from (select 0 as "k", "id", "message_id", "created_at", ${none} from "messages" ` +
        'where "ticket_id" = ? and "message_id" is not null order by "id" asc limit 1) as "r"',
      `union all select * from (select 1 as "k", "id", "message_id", "created_at", ${none} from "messages" ` +
        'where "ticket_id" = ? and "from_address" = ? and "message_id" is not null ' +
        `order by "id" desc limit ${limit}) as "t"`,
      `union all select * from (select 2 as "k", "id", "message_id", "created_at", ${none} from "outbox" ` +
        `where "ticket_id" = ? and "recipient" = ? and "state" <> 'held' order by "id" desc limit ${limit}) as "o"`,
      ...(links
        ? [
            'union all select 3 as "k", "generation" as "id", null as "message_id", "expires_at" as "created_at", ' +
              '"revoked_at" from "links" where "ticket_id" = ? and "recipient" = ?',
          ]
        : []),
    ].join(' ');
  },
);

/**
 * The rows threadOf reads for a mail to `recipient` on a case (threadFrom() makes its answer of them) and, with
 * `links`, that recipient's link generations on the case (linkGenerationsIn()), in one statement. Each part keeps its
 * ORDER BY and LIMIT inside a derived table (SQLite allows neither on a UNION's members). The limit is written into
 * the SQL, not bound: SQLite (3.53) plans a bound LIMIT for its value, and so prepares the statement again every time
 * that parameter is bound, i.e. at every run (see threadSql).
 */
export async function threadRows(
  db: Queryable,
  ticketId: number,
  recipient: string,
  limit: number,
  links = false,
): Promise<any[]> {
  const bindings = [ticketId, ticketId, recipient, ticketId, recipient];
  if (!links) return rows(db, threadSql(limit, false), bindings, THREAD_COUNTED);
  const found = await rows(db, threadSql(limit, true), [...bindings, ticketId, recipient], {
    ...THREAD_COUNTED,
    links: () => false,
  });
  // A link issued earlier in the same batch (insertLink) may still wait: added as read, not written first. Not revoked
  // yet: a revocation is a statement on "links", which writes the waiting ones before it runs.
  for (const w of waitingRows(db, 'links', rowsWhere({ ticket_id: ticketId, recipient })))
    found.push({ k: 3, id: w.generation, message_id: null, created_at: w.expires_at, revoked_at: null });
  return found;
}

/** The link generations among threadRows' rows, newest first (linkGenerations' answer). */
export function linkGenerationsIn(found: readonly any[]): ReturnType<typeof generationsOf> {
  const links = found
    .filter((r) => Number(r.k) === 3)
    .map((r) => ({ generation: r.id, expires_at: r.created_at, revoked_at: r.revoked_at }));
  return generationsOf(links.sort((a, b) => Number(b.generation) - Number(a.generation)));
}

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
  return threadFrom(db, await threadRows(db, ticketId, recipient, limit), ticketId, recipient, limit);
}

/**
 * threadOf's answer from threadRows' rows. What still waits for the batch's flush joins them, from memory: the case's
 * messages (their ids come after the table's) and our mail, the newest; both asked now, after the read (a flush
 * since the read leaves none waiting, so no row counts twice).
 */
export function threadFrom(
  db: Queryable,
  found: any[],
  ticketId: number,
  recipient: string,
  limit: number,
): { root?: string; theirs: ThreadRow[]; ours: ThreadRow[] } {
  for (const w of waitingThreadRows(db, ticketId)) {
    found.push({ k: 0, ...w });
    if (w.from_address === recipient) found.push({ k: 1, ...w });
  }
  // Newest first (mail enqueued after a read ahead, `unseen`, before every row read), then split by part (k: 0 the
  // case's messages, 1 the recipient's, 2 our mail to them).
  found.sort((a, b) => Number(Boolean(b.unseen)) - Number(Boolean(a.unseen)) || Number(b.id) - Number(a.id));
  const part = (k: number): ThreadRow[] =>
    found.filter((r) => Number(r.k) === k).map((r) => ({ message_id: r.message_id, created_at: r.created_at }));
  // Our mail still waiting is newer than any row read: it comes first.
  const waiting = waitingOutbox(db, rowsWhere({ ticket_id: ticketId, recipient }))
    .filter((w) => w.state !== 'held')
    .reverse()
    .map((w) => ({ message_id: w.messageId, created_at: w.createdAt }));
  // The root is the oldest of the case's first message read and those waiting; theirs and ours, the newest `limit`.
  const root = part(0).at(-1)?.message_id;
  return { root, theirs: part(1).slice(0, limit), ours: [...waiting, ...part(2)].slice(0, limit) };
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
  // Read ahead before this stop: read again when next asked.
  forgetBudgetAhead(queryable, s.address.toLowerCase());
  const db = knexOf(queryable);
  await db('mail_suppressions')
    .insert({ address: s.address, reason: s.reason, ticket_id: s.ticketId ?? null, until: s.until, created_at: s.now })
    .onConflict('address')
    .merge({ reason: s.reason, ticket_id: s.ticketId ?? null, until: s.until, created_at: s.now });
}
