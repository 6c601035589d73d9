import { isPostgres } from '../knex.ts';
import {
  flushFor,
  waiting,
  insertId,
  insertSql,
  placeholders,
  row,
  rows,
  run,
  valuesOf,
  knexOf,
  type Queryable,
} from '../sql.ts';
import type { Participant, Priority, Stage, Ticket, TicketView, WaitingOn } from '../../tickets/types.ts';
import { participantsOf } from './participants.ts';
import { messagesOfCaseWritten } from './case-messages.ts';

// The case repository as the services see it (`import * as repo`): cases here; messages, people and thread ids in
// their own files, under 300 lines each.
export * from './case-messages.ts';
export * from './participants.ts';
export * from './thread-ids.ts';

/** Cases, their people, messages, attachments, thread ids and event log. SQL only; no rules. What every mail runs is
 * plain SQL (src/db/sql.ts); the rest uses the query builder. */

const num = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : Number(v));
const str = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));

export function toTicket(r: any): Ticket {
  return {
    id: Number(r.id),
    number: Number(r.number),
    subject: r.subject,
    requester: r.requester,
    requesterName: str(r.requester_name),
    organization: r.organization,
    category: str(r.category),
    product: str(r.product),
    productModule: str(r.product_module),
    productVersion: str(r.product_version),
    priority: r.priority as Priority,
    stage: r.stage as Stage,
    waitingOn: r.waiting_on as WaitingOn,
    assignee: str(r.assignee),
    relatedNumber: num(r.related_number),
    relatedReason: str(r.related_reason),
    rating: str(r.rating),
    ratingComment: str(r.rating_comment),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    firstResponseAt: num(r.first_response_at),
    closedAt: num(r.closed_at),
  };
}

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
];
const TICKET_COLUMNS = ['number', ...TICKET_FIELDS];
const INSERT_TICKET = insertSql('tickets', TICKET_COLUMNS);

export async function insertTicket(trx: Queryable, t: NewTicket): Promise<Ticket> {
  const fields = { ...ticketFields(t), number: t.number };
  const id = await insertId(trx, INSERT_TICKET, valuesOf(TICKET_COLUMNS, [fields]));
  return toTicket({ ...fields, id });
}

/**
 * A new case under the next case number (nextTicketNumber). On PostgreSQL one statement, the counter's UPDATE in a
 * CTE of the INSERT: one round trip instead of two, and the number is taken and used in the same statement. SQLite
 * allows no UPDATE in a CTE: two statements there, run in-process.
 */
export async function insertNumberedTicket(trx: Queryable, t: Omit<NewTicket, 'number'>): Promise<Ticket> {
  if (!isPostgres(trx)) return insertTicket(trx, { ...t, number: await nextTicketNumber(trx) });
  const fields = ticketFields(t);
  const r = await row(trx, INSERT_NUMBERED_TICKET, ['ticket_number', ...valuesOf(TICKET_FIELDS, [fields])]);
  return toTicket({ ...fields, id: Number(r.id), number: Number(r.number) });
}
const INSERT_NUMBERED_TICKET =
  'with "n" as (update "counters" set "value" = "value" + 1 where "name" = ? returning "value") ' +
  `insert into "tickets" ("${TICKET_COLUMNS.join('", "')}") values ((select "value" from "n"), ${placeholders(1, TICKET_FIELDS.length).slice(1)} returning "id", "number"`;

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
  };
}

/** `patch`: column → value. The statement depends only on which columns change (a handful of shapes). */
export async function updateTicket(trx: Queryable, id: number, patch: Record<string, unknown>): Promise<void> {
  // The SET list is written as it is read, not by keys.map().join(): TurboFan's inlined map() makes an array of
  // another kind than the interpreter's, and the join after it threw this function's optimized code away once.
  let set = '';
  const values: unknown[] = [];
  for (const k in patch) {
    if (patch[k] === undefined) continue;
    // Column names go into the SQL text: only the code's own snake_case names, never anything from outside.
    if (!/^[a-z_]+$/.test(k)) throw new Error(`columna inválida para tickets: ${k.slice(0, 40)}`);
    set += `${set ? ', ' : ''}"${k}" = ?`;
    values.push(patch[k]);
  }
  if (!set) return;
  values.push(id);
  await run(trx, `update "tickets" set ${set} where "id" = ?`, values);
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

/**
 * The cases that `ids` (Message-IDs, in order of preference) belong to, with their people: one statement where a
 * look-up of the ids, then of each case and of its participants, took three. Ordered by the first id of `ids` each
 * case matched: the In-Reply-To a caller puts first names the case before an older reference does.
 */
export async function ticketViewsByThreadIds(db: Queryable, ids: readonly string[]): Promise<TicketView[]> {
  return (await threadViews(db, ids, false)).views;
}

/**
 * As ticketViewsByThreadIds, and on PostgreSQL each case found is locked by the same statement (as lockTicket) until
 * the caller's transaction ends. `locked`: each locked case, and whether another transaction changed it while this
 * one waited for it; such a case's row is the one committed, but its people are as they were when the statement
 * began, so the caller reads again (see lockTicket). SQLite has one writer at a time: nothing locked.
 */
export async function lockTicketViewsByThreadIds(
  db: Queryable,
  ids: readonly string[],
): Promise<{ views: TicketView[]; locked: ReadonlyMap<number, boolean> }> {
  return threadViews(db, ids, isPostgres(db));
}

// Only "t" is locked ("p" is the nullable side of an outer join). The case as the statement's snapshot saw it is read
// apart: a row version (ctid) other than the locked one was replaced by a commit the lock waited for.
const MOVED = `, "t"."ctid" <> (select "o"."ctid" from "tickets" as "o" where "o"."id" = "t"."id") as "moved"`;

async function threadViews(
  db: Queryable,
  ids: readonly string[],
  lock: boolean,
): Promise<{ views: TicketView[]; locked: Map<number, boolean> }> {
  const locked = new Map<number, boolean>();
  const asked = [...new Set(ids)].slice(0, 200);
  if (asked.length === 0) return { views: viewsInOrder([]), locked };
  // An earlier mail of the same batch may have left its thread ids waiting (addThreadIds): written first if asked.
  // Its people are weighed below, once the cases found are known.
  const matters = {
    thread_ids: (v: (c: string) => unknown) => asked.includes(v('message_id') as string),
    participants: () => false,
  };
  const sql = `select "x"."message_id" as "thread_message_id", "t".*, "p"."address" as "participant_address", "p"."role" as "participant_role"${lock ? MOVED : ''} from "thread_ids" as "x" join "tickets" as "t" on "t"."id" = "x"."ticket_id" left join "participants" as "p" on "p"."ticket_id" = "t"."id" where "x"."message_id" in ${placeholders(1, asked.length)}${lock ? ' for update of "t"' : ''}`;
  let found = await rows(db, sql, asked, matters);
  // A case opened earlier in the same batch may have people still waiting (addParticipants): then again, written.
  const cases = new Set(found.map((r) => Number(r.id)));
  if (cases.size && waiting(db, 'participants', (v) => cases.has(v('ticket_id') as number))) {
    await flushFor(db, 'participants');
    found = await rows(db, sql, asked, matters);
  }
  const rank = new Map(asked.map((id, i) => [id, i]));
  const views = new Map<number, { view: TicketView; rank: number; people: Set<string> }>();
  for (const r of found) {
    const id = Number(r.id);
    if (lock) locked.set(id, locked.get(id) === true || r.moved === true);
    let v = views.get(id);
    if (!v) views.set(id, (v = { view: { ...toTicket(r), participants: [] }, rank: Infinity, people: new Set() }));
    v.rank = Math.min(v.rank, rank.get(r.thread_message_id) ?? Infinity);
    // One row per participant and matched id: each participant once.
    if (r.participant_address !== null && r.participant_address !== undefined && !v.people.has(r.participant_address)) {
      v.people.add(r.participant_address);
      (v.view.participants as Participant[]).push({ address: r.participant_address, role: r.participant_role });
    }
  }
  return { views: viewsInOrder([...views.values()]), locked };
}

/** The views by rank, pushed into a literal: one kind of array, empty or not (src/outbound/notifier.ts files()). */
function viewsInOrder(ranked: Array<{ view: TicketView; rank: number }>): TicketView[] {
  ranked.sort((a, b) => a.rank - b.rank || a.view.id - b.view.id);
  const out: TicketView[] = [];
  for (const r of ranked) out.push(r.view);
  return out;
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

export async function messagesOf(queryable: Queryable, ticketId: number): Promise<any[]> {
  await messagesOfCaseWritten(queryable, ticketId);
  const db = knexOf(queryable);
  return db('messages')
    .where({ ticket_id: ticketId })
    .orderBy([{ column: 'created_at' }, { column: 'id' }]);
}

export async function attachmentsOf(queryable: Queryable, messageIds: number[]): Promise<any[]> {
  const db = knexOf(queryable);
  if (!messageIds.length) return [];
  await flushFor(queryable, 'attachments', (v) => messageIds.includes(v('message_id') as number));
  return db('attachments').whereIn('message_id', messageIds).orderBy('id');
}

export async function eventsOf(queryable: Queryable, ticketId: number): Promise<any[]> {
  await flushFor(queryable, 'events');
  const db = knexOf(queryable);
  return db('events')
    .where({ ticket_id: ticketId })
    .orderBy([{ column: 'created_at' }, { column: 'id' }]);
}
