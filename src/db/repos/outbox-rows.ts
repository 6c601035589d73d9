import {
  insertId,
  insertLater,
  insertSql,
  waitingRows,
  type NarrowedTest,
  type Queryable,
  type RowTest,
} from '../sql.ts';
import { memoKey, UnitOfWork } from '../unit-of-work.ts';
import { enqueuedAhead } from './outbox-ahead.ts';
import { mailWrittenAhead } from './notice-thread-ahead.ts';

/** A row of the outbox as enqueue() writes it, and the rows that wait for the ingest batch's flush. */

export interface StoredMail {
  from: { name: string; address: string };
  replyTo: string;
  to: string;
  subject: string;
  /** What to render when the mail is sent (src/outbound/outbox.ts `contentOf`): the template, its locale and data.
   * Rows written before this existed carry the rendered `html` and `text` instead. */
  render?: { template: string; locale: string; data: Record<string, unknown>; pick?: Record<string, string> };
  html?: string;
  text?: string;
  inReplyTo?: string;
  references: string[];
  headers: Record<string, string>;
  attachments: Array<{ filename: string; contentType: string; sha256: string }>;
}

export interface NewOutbox {
  idempotencyKey: string;
  ticketId?: number;
  kind: string;
  recipient: string;
  automatic: boolean;
  messageId: string;
  mail: StoredMail;
  state: 'pending' | 'held';
  heldReason?: string;
  now: number;
  /** When it may be sent (default: `now`). */
  dueAt?: number;
}

const COLUMNS = [
  'idempotency_key',
  'ticket_id',
  'kind',
  'recipient',
  'automatic',
  'message_id',
  'subject',
  'mail_json',
  'state',
  'held_reason',
  'next_attempt_at',
  'created_at',
] as const;

const INSERT_OUTBOX = insertSql('outbox', COLUMNS, 1, 'on conflict ("idempotency_key") do nothing');

/**
 * Whether this unit's outbox rows may wait for its flush (letOutboxWait); inherited by its child units. Off by
 * default: jobs, the web and the careful rerun of a batch write each row at once.
 */
const OUTBOX_WAITS = memoKey<boolean>(
  'outbox.waits',
  () => false,
  (parent) => parent,
);

/**
 * The idempotency keys this unit gave to the outbox while its rows wait (letOutboxWait), written yet or not: an event
 * that asks for the same mail again enqueues nothing. A mail in its own savepoint works on a copy, so the keys of a
 * savepoint rolled back (its rows gone with it) are not taken for enqueued.
 */
const KEYS_ENQUEUED = memoKey<Set<string>>(
  'outbox.keysEnqueued',
  () => new Set(),
  (parent) => new Set(parent),
);

/**
 * The ingest's batch, run without a savepoint per mail, lets its outbox rows wait for the flush (one INSERT for the
 * batch's mail). Such a row is written without `on conflict … do nothing`: whether its idempotency key is new is known
 * at once only against the keys this unit enqueued (KEYS_ENQUEUED). If the table already has the key, the flush is
 * refused, the batch rolls back and runs again carefully (src/inbound/ingest-batch.ts), where rows are written at once
 * and the duplicate is found as before: an event never enqueues the same mail twice.
 */
export function letOutboxWait(uow: UnitOfWork): void {
  uow.setMemo(OUTBOX_WAITS, true);
}

/**
 * Inserts unless the idempotency key exists: the new id; `'waiting'` when the row waits for the unit's flush
 * (letOutboxWait), new as far as this transaction knows; undefined when the key was already there.
 */
export async function insertOutbox(q: Queryable, o: NewOutbox): Promise<number | 'waiting' | undefined> {
  const values = [
    o.idempotencyKey,
    o.ticketId,
    o.kind,
    o.recipient,
    o.automatic,
    o.messageId,
    o.mail.subject,
    JSON.stringify(o.mail),
    o.state,
    o.heldReason,
    o.dueAt ?? o.now,
    o.now,
  ];
  const written = await writeOutboxRow(q, o.idempotencyKey, values);
  if (written === undefined) return undefined;
  // Counted from memory by the batch's reads ahead (the loop budget, the notices' threads), flushed yet or not.
  enqueuedAhead(q, o.recipient, o.automatic, o.state, o.now);
  mailWrittenAhead(q, o);
  return written;
}

/** The row written at once (its id; undefined for a key already there), or left waiting for the flush. */
async function writeOutboxRow(q: Queryable, key: string, values: unknown[]): Promise<number | 'waiting' | undefined> {
  if (!(q instanceof UnitOfWork && q.memo(OUTBOX_WAITS))) return insertId(q, INSERT_OUTBOX, values);
  const enqueued = q.memo(KEYS_ENQUEUED);
  if (enqueued.has(key)) return undefined;
  await insertLater(q, 'outbox', COLUMNS, [values]);
  enqueued.add(key);
  return 'waiting';
}

/** The columns of a waiting outbox row that its readers in the unit look at. */
export interface WaitingOutbox {
  ticketId?: number;
  kind: string;
  recipient: string;
  automatic: boolean;
  messageId: string;
  state: string;
  createdAt: number;
}

/**
 * The outbox rows `q` (a unit of work) has waiting, in the order they were given (the order of their ids once
 * written). Every reader of the outbox inside a unit adds these to what it read (loopBudgetOf, countRecentOfKinds,
 * threadOf), asked after its statement: a flush during that statement leaves none waiting, so no row counts twice.
 */
export function waitingOutbox(q: Queryable, which?: RowTest | NarrowedTest): WaitingOutbox[] {
  return waitingRows(q, 'outbox', which).map((r) => ({
    ticketId: r.ticket_id as number | undefined,
    kind: r.kind as string,
    recipient: r.recipient as string,
    automatic: Boolean(r.automatic),
    messageId: r.message_id as string,
    state: r.state as string,
    createdAt: r.created_at as number,
  }));
}
