import { knexOf, placeholders, rows, run, type Queryable } from '../sql.ts';
import { PROVEN_ORIGINS } from '../../tickets/types.ts';

/** What the status page records: read receipts, form submissions (idempotency), link requests. SQL only. */

/** Support answers of a case that the customer has not seen yet, up to message `upTo` (the newest the page showed)
 * when given, now marked read; returns their ids. */
export async function markAnswersRead(
  queryable: Queryable,
  ticketId: number,
  now: number,
  upTo?: number,
): Promise<number[]> {
  const unread =
    'select "id" from "messages" where "ticket_id" = ? and "role" = ? and "internal" = ? and "read_at" is null';
  const found = await rows(
    queryable,
    upTo === undefined ? unread : `${unread} and "id" <= ?`,
    upTo === undefined ? [ticketId, 'consultant', false] : [ticketId, 'consultant', false, upTo],
    { messages: (v) => v('ticket_id') === ticketId },
  );
  const ids = found.map((r) => Number(r.id));
  if (ids.length)
    await run(
      queryable,
      `update "messages" set "read_at" = ? where "id" in ${placeholders(1, ids.length)} and "read_at" is null`,
      [now, ...ids],
    );
  return ids;
}

/**
 * Claims a form nonce for a case. Returns false when that form was already submitted (the primary key refuses
 * the second row; on PostgreSQL a concurrent twin waits for the first transaction and then fails here).
 */
export async function claimSubmission(
  queryable: Queryable,
  ticketId: number,
  nonce: string,
  kind: 'message' | 'rating',
  now: number,
): Promise<boolean> {
  const trx = knexOf(queryable);
  const existing = await trx('web_submissions').where({ ticket_id: ticketId, nonce }).first();
  if (existing) return false;
  await trx('web_submissions').insert({ ticket_id: ticketId, nonce, kind, created_at: now });
  return true;
}

export async function setSubmissionMessage(
  queryable: Queryable,
  ticketId: number,
  nonce: string,
  messageRowId: number,
): Promise<void> {
  const trx = knexOf(queryable);
  await trx('web_submissions').where({ ticket_id: ticketId, nonce }).update({ message_row_id: messageRowId });
}

export async function countLinkRequests(queryable: Queryable, subjectKey: string, since: number): Promise<number> {
  const db = knexOf(queryable);
  const r = await db('link_requests')
    .where({ subject_key: subjectKey })
    .where('created_at', '>', since)
    .count({ n: '*' })
    .first();
  return Number(r?.n ?? 0);
}

export async function recordLinkRequest(
  queryable: Queryable,
  kind: 'fresh' | 'lost',
  subjectKey: string,
  now: number,
): Promise<void> {
  const db = knexOf(queryable);
  await db('link_requests').insert({ kind, subject_key: subjectKey, created_at: now });
}

/** Open cases where the address is the requester or a participant added by a proven path (for "lost my link": a Cc
 * that a forged follow-up could have added never gets a link this way). */
export async function openCasesOf(
  queryable: Queryable,
  address: string,
  limit = 20,
): Promise<Array<{ id: number; number: number; subject: string }>> {
  const proven =
    'select "ticket_id" from "participants" where "address" = ? and "role" in (?, ?) ' +
    `and "added_by" in ${placeholders(1, PROVEN_ORIGINS.length)}`;
  const found = await rows(
    queryable,
    `select "id", "number", "subject" from "tickets" where "stage" <> ? and ("requester" = ? or "id" in (${proven}))` +
      ' order by "number" desc limit ?',
    ['cerrado', address, address, 'requester', 'cc', ...PROVEN_ORIGINS, limit],
    { participants: (v) => v('address') === address },
  );
  return found.map((r) => ({ id: Number(r.id), number: Number(r.number), subject: r.subject }));
}
