import { isPostgres } from '../knex.ts';
import { insertId, insertSql, placeholders, row, rows, run, valuesOf, knexOf, type Queryable } from '../sql.ts';
import type { Priority, Stage, Ticket, TicketView, WaitingOn } from '../../tickets/types.ts';
import { participantsOf } from './participants.ts';
import { str, toTicket } from './ticket-row.ts';
import { caseOpened, caseWritten } from './threads-ahead.ts';
import { reservedTicketId } from './ids-ahead.ts';
import { memoKey, UnitOfWork } from '../unit-of-work.ts';

// The case repository as the services see it (`import * as repo`): cases here; messages, people and thread ids in
// their own files, under 300 lines each.
export * from './case-messages.ts';
export * from './participants.ts';
export * from './thread-ids.ts';
export * from './thread-views.ts';
export { toTicket } from './ticket-row.ts';

/** Cases, their people, messages, attachments, thread ids and event log. SQL only; no rules. What every mail runs is
 * plain SQL (src/db/sql.ts); the rest uses the query builder. */

/** The next case number, inside the caller's transaction: the row lock (PostgreSQL) or the write lock (SQLite)
 * serialises concurrent openings, and a rollback gives the number back, so numbers have no gaps. */
export async function nextTicketNumber(trx: Queryable): Promise<number> {
  // One statement: UPDATE … RETURNING (SQLite ≥ 3.35, PostgreSQL) takes the lock and reads the new value.
  const next = await row(trx, 'update "counters" set "value" = "value" + 1 where "name" = ? returning "value"', [
    'ticket_number',
  ]);
  return Number(next.value);
}

export interface NewTicket {
  number: number;
  subject: string;
  requester: string;
  requesterName?: string;
  organization: string;
  category?: string;
  priority: Priority;
  stage: Stage;
  waitingOn: WaitingOn;
  mailbox?: string;
  relatedNumber?: number;
  relatedReason?: string;
  now: number;
  product?: string;
  productModule?: string;
  productVersion?: string;
  /** The opening mail proved its sender (customer-proof), or a person Mesa knows opened it: what the open-case limit
   * counts for a sender who proves who they are. */
  openedProven: boolean;
}

/** The columns of a new case after its number. */
const TICKET_FIELDS = [
  'subject',
  'requester',
  'requester_name',
  'organization',
  'category',
  'priority',
  'stage',
  'waiting_on',
  'mailbox',
  'related_number',
  'related_reason',
  'created_at',
  'updated_at',
  'product',
  'product_module',
  'product_version',
  'opened_proven',
];
const TICKET_COLUMNS = ['number', ...TICKET_FIELDS];
const INSERT_TICKET = insertSql('tickets', TICKET_COLUMNS);

export async function insertTicket(trx: Queryable, t: NewTicket): Promise<Ticket> {
  const fields = { ...ticketFields(t), number: t.number };
  const id = await insertId(trx, INSERT_TICKET, valuesOf(TICKET_COLUMNS, [fields]));
  caseOpened(trx, t.number);
  return toTicket({ ...fields, id });
}

/**
 * A new case under the next case number. In the ingest's batch on PostgreSQL (an id taken ahead, ids-ahead.ts) the
 * case's row waits for the batch's flush with the others, under the next of the batch's numbers (nextInBatch): the
 * batch's new cases cost no round trip each. Elsewhere on PostgreSQL one statement, the counter's UPDATE in a CTE of
 * the INSERT: the number is taken and used in the same statement. SQLite allows no UPDATE in a CTE: two statements
 * there, run in-process.
 */
export async function insertNumberedTicket(trx: Queryable, t: Omit<NewTicket, 'number'>): Promise<Ticket> {
  if (!isPostgres(trx)) return insertTicket(trx, { ...t, number: await nextTicketNumber(trx) });
  const fields = ticketFields(t);
  const id = await reservedTicketId(trx);
  if (id !== undefined && trx instanceof UnitOfWork) {
    const number = await nextInBatch(trx);
    await trx.insertLater('tickets', TICKET_COLUMNS_WITH_ID, [[id, number, ...valuesOf(TICKET_FIELDS, [fields])]]);
    caseOpened(trx, number);
    return toTicket({ ...fields, id, number });
  }
  const r = await row(trx, INSERT_NUMBERED_TICKET, ['ticket_number', ...valuesOf(TICKET_FIELDS, [fields])]);
  caseOpened(trx, Number(r.number));
  // This transaction now holds the counter's lock: a case of the batch that waits after this one goes on from here.
  if (trx instanceof UnitOfWork) trx.memo(NUMBERS).last = Number(r.number);
  return toTicket({ ...fields, id: Number(r.id), number: Number(r.number) });
}
const TICKET_COLUMNS_WITH_ID = ['id', ...TICKET_COLUMNS];

/**
 * The last case number this transaction gave (undefined: none yet). Only the transaction that holds the counter's row
 * lock gives numbers, so the next is the last plus one until it commits; a savepoint's child works on a copy, so a
 * mail rolled back hands its numbers back.
 */
const NUMBERS = memoKey<{ last?: number }>(
  'tickets.numbers',
  () => ({}),
  (parent) => ({ ...parent }),
);

/**
 * The next case number of the batch: the first from the counter (UPDATE … RETURNING, which takes the counter's row
 * lock until the batch commits: another instance's new case waits for it, as it does for any new case), the next ones
 * from memory, and the counter's row then waits for the flush with the last number given (replaceLater), so that it
 * is written once for the batch, before COMMIT, and undone with it.
 */
async function nextInBatch(uow: UnitOfWork): Promise<number> {
  const numbers = uow.memo(NUMBERS);
  if (numbers.last === undefined) return (numbers.last = await nextTicketNumber(uow));
  numbers.last += 1;
  await uow.replaceLater('counters', ['name', 'value'], ['ticket_number', numbers.last], COUNTER_UPSERT);
  return numbers.last;
}
const COUNTER_UPSERT = 'on conflict ("name") do update set "value" = excluded."value"';
const INSERT_NUMBERED_TICKET =
  'with "n" as (update "counters" set "value" = "value" + 1 where "name" = ? returning "value") ' +
  `insert into "tickets" ("${TICKET_COLUMNS.join('", "')}") ` +
  `values ((select "value" from "n"), ${placeholders(1, TICKET_FIELDS.length).slice(1)} returning "id", "number"`;

function ticketFields(t: Omit<NewTicket, 'number'>): Record<string, unknown> {
  return {
    subject: t.subject,
    requester: t.requester,
    requester_name: t.requesterName ?? null,
    organization: t.organization,
    category: t.category ?? null,
    priority: t.priority,
    stage: t.stage,
    waiting_on: t.waitingOn,
    mailbox: t.mailbox ?? null,
    related_number: t.relatedNumber ?? null,
    related_reason: t.relatedReason ?? null,
    created_at: t.now,
    updated_at: t.now,
    product: t.product ?? null,
    product_module: t.productModule ?? null,
    product_version: t.productVersion ?? null,
    opened_proven: t.openedProven,
  };
}

/** `patch`: column → value. The statement depends only on which columns change (a handful of shapes). */
export async function updateTicket(trx: Queryable, id: number, patch: Record<string, unknown>): Promise<void> {
  const changes = Object.entries(patch).filter(([, v]) => v !== undefined);
  // Column names go into the SQL text: only the code's own snake_case names, never anything from outside.
  for (const [k] of changes)
    if (!/^[a-z_]+$/.test(k)) throw new Error(`columna inválida para tickets: ${k.slice(0, 40)}`);
  if (!changes.length) return;
  caseWritten(trx, id);
  const set = changes.map(([k]) => `"${k}" = ?`).join(', ');
  await run(trx, `update "tickets" set ${set} where "id" = ?`, [...changes.map(([, v]) => v), id]);
}

export async function findTicketByNumber(db: Queryable, number: number): Promise<Ticket | undefined> {
  const r = await row(db, 'select * from "tickets" where "number" = ?', [number]);
  return r ? toTicket(r) : undefined;
}

export async function findTicketById(db: Queryable, id: number): Promise<Ticket | undefined> {
  const r = await row(db, 'select * from "tickets" where "id" = ?', [id]);
  return r ? toTicket(r) : undefined;
}

/**
 * A case read to decide a change to it, inside the caller's transaction, and locked until that transaction ends
 * (FOR UPDATE on PostgreSQL; SQLite has one writer at a time). Whoever else wants to change the case at the same
 * moment (another instance's jobs, a mail on another mailbox, the status page) waits, then reads what this one
 * committed. `slaLight` comes along for the jobs.
 */
export async function lockTicket(trx: Queryable, id: number): Promise<(Ticket & { slaLight?: string }) | undefined> {
  const r = await row(trx, `select * from "tickets" where "id" = ?${isPostgres(trx) ? ' for update' : ''}`, [id]);
  return r ? { ...toTicket(r), slaLight: str(r.sla_light) } : undefined;
}

export async function viewOf(db: Queryable, t: Ticket | undefined): Promise<TicketView | undefined> {
  return t ? { ...t, participants: await participantsOf(db, t.id) } : undefined;
}

export async function listTickets(
  queryable: Queryable,
  opts: { limit?: number; openOnly?: boolean } = {},
): Promise<Ticket[]> {
  const db = knexOf(queryable);
  let q = db('tickets')
    .orderBy('number', 'desc')
    .limit(opts.limit ?? 200);
  if (opts.openOnly) q = q.whereNot({ stage: 'cerrado' });
  return (await q).map(toTicket);
}

/** A case's messages, oldest first; its rows still waiting for the ingest batch's flush are written first. */
export function messagesOf(queryable: Queryable, ticketId: number): Promise<any[]> {
  return rows(queryable, 'select * from "messages" where "ticket_id" = ? order by "created_at", "id"', [ticketId], {
    messages: (v) => v('ticket_id') === ticketId,
  });
}

/** The attachments of these messages, in insertion order; those still waiting for the flush are written first. */
export async function attachmentsOf(queryable: Queryable, messageIds: number[]): Promise<any[]> {
  if (!messageIds.length) return [];
  const sql = `select * from "attachments" where "message_id" in ${placeholders(1, messageIds.length)} order by "id"`;
  return rows(queryable, sql, messageIds, { attachments: (v) => messageIds.includes(v('message_id') as number) });
}

/** A case's event log, oldest first; its entries still waiting for the ingest batch's flush are written first. */
export function eventsOf(queryable: Queryable, ticketId: number): Promise<any[]> {
  return rows(queryable, 'select * from "events" where "ticket_id" = ? order by "created_at", "id"', [ticketId], {
    events: (v) => v('ticket_id') === ticketId,
  });
}
