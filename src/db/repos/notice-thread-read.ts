import { boundedMemo } from '../../memo.ts';
import type { Ticket } from '../../tickets/types.ts';
import { padded, placeholders, rows } from '../sql.ts';
import { memoKey, type UnitOfWork } from '../unit-of-work.ts';
import {
  keepNoticeThreadsRead,
  noticeThreadReadAhead,
  type CaseThreadRead,
  type ThreadReadRow,
} from './notice-thread-ahead.ts';
import { casesNamedAhead, type ThreadAsk } from './threads-ahead.ts';

/**
 * The hand-off of the ingest's batch: what the mails ready after the one whose turn it is ask the thread look-up
 * (their cases were read ahead by lookAheadThreads). Undefined outside a batch and in its careful rerun: there every
 * notice reads its thread alone.
 */
const NOTICES_AHEAD = memoKey<readonly ThreadAsk[] | undefined>(
  'outbox.noticesAhead',
  () => undefined,
  (parent) => parent,
);

/** The ingest's batch, before a mail's turn, names what the mails ready after it ask the thread look-up. */
export function expectNotices(uow: UnitOfWork, asks: readonly ThreadAsk[]): void {
  uow.setMemo(NOTICES_AHEAD, asks);
}

/** Cases and recipients read ahead in one statement: in powers of two (the lists padded with their last value), so a
 * few texts serve every count. */
const CASES_MOST = 64;
const RECIPIENTS_MOST = 8;

/**
 * The statement for `cases` × `recipients` (padded sizes) and threads of `limit` (an integer from the code, written
 * into the SQL as threadRows' is): per case its first message with a Message-ID (k 0); per pair the latest `limit`
 * messages from the recipient (k 1) and not held mail to them (k 2), and their link generations (k 3), as threadRows
 * returns them, with the case ("ticket_id") and the recipient ("a").
 */
const noticeThreadsSql = boundedMemo(
  32,
  (cases: number, recipients: number, limit: number) => `${cases}:${recipients}:${limit}`,
  (cases: number, recipients: number, limit: number): string => {
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new Error(`límite inválido para el hilo: ${limit}`);
    const c = placeholders(1, cases);
    const r = placeholders(1, recipients);
    return [
      'select "k", "ticket_id", "a", "id", "message_id", "created_at", "revoked_at" from (',
      'select 0 as "k", "ticket_id", cast(null as text) as "a", "id", "message_id", "created_at",',
      'cast(null as bigint) as "revoked_at",',
      'row_number() over (partition by "ticket_id" order by "id" asc) as "n"',
      `from "messages" where "ticket_id" in ${c} and "message_id" is not null`,
      'union all select 1, "ticket_id", "from_address", "id", "message_id", "created_at", null,',
      'row_number() over (partition by "ticket_id", "from_address" order by "id" desc)',
      `from "messages" where "ticket_id" in ${c} and "from_address" in ${r} and "message_id" is not null`,
      'union all select 2, "ticket_id", "recipient", "id", "message_id", "created_at", null,',
      'row_number() over (partition by "ticket_id", "recipient" order by "id" desc)',
      `from "outbox" where "ticket_id" in ${c} and "recipient" in ${r} and "state" <> 'held'`,
      'union all select 3, "ticket_id", "recipient", "generation", null, "expires_at", "revoked_at", 1',
      `from "links" where "ticket_id" in ${c} and "recipient" in ${r}`,
      `) as "x" where "n" <= case when "k" = 0 then 1 else ${limit} end`,
    ].join(' ');
  },
);

/** Not written for this read: the unit's rows of these tables that wait are kept as unseen (keepNoticeThreadsRead). */
const FROM_MEMORY = { messages: () => false, outbox: () => false, links: () => false };

/**
 * Before the notice to `recipient` on `t` reads its thread and link (readWithLink), in the ingest's batch: reads them
 * in one statement for that pair and for those the batch expects and has not read, the cases the ready mails name
 * (casesNamedAhead) and the case itself, each × `recipientsOf` it (the consultants its news goes to), and keeps them
 * in the unit (keepNoticeThreadsRead); false, reading nothing, when that pair is all there is to read (the notice reads
 * alone, as before: never a statement more), and outside a batch or in its careful rerun. Every pair of cases ×
 * recipients is read, a few more than asked. What other instances commit after this read is not in it, as it would
 * not be in a read a moment earlier.
 */
export async function readNoticeThreadsAhead(
  uow: UnitOfWork,
  t: Ticket,
  recipient: string,
  limit: number,
  recipientsOf: (t: Ticket) => readonly string[],
): Promise<boolean> {
  const asks = uow.memo(NOTICES_AHEAD);
  if (!asks) return false;
  const cases = [t.id];
  const recipients = [recipient];
  for (const c of [t, ...casesNamedAhead(uow, asks)]) {
    if (cases.length === CASES_MOST) break;
    const theirs = recipientsOf(c).map((r) => r.toLowerCase());
    if (c !== t && theirs.every((r) => noticeThreadReadAhead(uow, c.id, r, limit))) continue;
    // Every recipient of a case read (this notice's case always): the new read replaces what was read of it.
    if (!cases.includes(c.id)) cases.push(c.id);
    for (const r of theirs) if (!recipients.includes(r) && recipients.length < RECIPIENTS_MOST) recipients.push(r);
  }
  if (cases.length === 1 && recipients.length === 1) return false;
  const c = padded(cases.slice());
  const r = padded(recipients.slice());
  // Planned with its values: the consultants are on most rows of "outbox" and "links" (StatementPlan).
  const found = await rows(
    uow,
    noticeThreadsSql(c.length, r.length, limit),
    [...c, ...c, ...r, ...c, ...r, ...c, ...r],
    FROM_MEMORY,
    'per-values',
  );
  const reads = new Map<number, { limit: number; root: ThreadReadRow[]; byRecipient: Map<string, ThreadReadRow[]> }>();
  for (const id of cases) reads.set(id, { limit, root: [], byRecipient: new Map(recipients.map((a) => [a, []])) });
  for (const x of found) {
    const read = reads.get(Number(x.ticket_id));
    const k = Number(x.k);
    if (!read) continue;
    const row: ThreadReadRow = {
      k,
      id: Number(x.id),
      message_id: x.message_id ?? null,
      created_at: Number(x.created_at),
      revoked_at: x.revoked_at == null ? null : Number(x.revoked_at),
    };
    if (k === 0) read.root.push(row);
    else read.byRecipient.get(x.a)?.push(row);
  }
  keepNoticeThreadsRead(uow, reads as ReadonlyMap<number, CaseThreadRead>);
  return true;
}
