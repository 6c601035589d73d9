import { isPostgres } from '../knex.ts';
import { padded, placeholders, rows, type Queryable } from '../sql.ts';
import { memoKey, UnitOfWork } from '../unit-of-work.ts';
import type { Participant, Ticket, TicketView } from '../../tickets/types.ts';
import { toTicket } from './ticket-row.ts';
import { addWaitingPeople, askedThreadIds, fromMemory, MOVED, threadIdsAsked, viewsInOrder } from './thread-views.ts';

/** What a mail asks the thread look-up: the Message-IDs its headers name (In-Reply-To first), its subject's case
 * number. */
export interface ThreadAsk {
  ids: readonly string[];
  number?: number;
}

/**
 * What a unit of work read ahead of its mails' turns (lookAheadThreads): the Message-IDs and case numbers it asked,
 * the cases they named and those cases as read (locked on PostgreSQL), and what the unit changed since: a case
 * written (its row or people), a thread id or a case number recorded. A mail that names any of those is not answered
 * from memory (threadsFromMemory): its own look-up reads them as they are now. A mail in its own savepoint works
 * on a copy: a mail rolled back takes its marks with it.
 */
interface ThreadsAhead {
  ids: Set<string>;
  numbers: Set<number>;
  byId: Map<string, number[]>;
  byNumber: Map<number, number>;
  views: Map<number, TicketView>;
  stale: Set<number>;
  idsAdded: Set<string>;
  numbersOpened: Set<number>;
}
const THREADS_AHEAD = memoKey<ThreadsAhead | undefined>(
  'tickets.threadsAhead',
  () => undefined,
  (parent) =>
    parent && {
      ...parent,
      stale: new Set(parent.stale),
      idsAdded: new Set(parent.idsAdded),
      numbersOpened: new Set(parent.numbersOpened),
    },
);

const aheadOf = (db: Queryable): ThreadsAhead | undefined =>
  db instanceof UnitOfWork ? db.memo(THREADS_AHEAD) : undefined;

/** The case's row or people changed in this unit (tickets.ts, participants.ts). */
export function caseWritten(db: Queryable, ticketId: number): void {
  aheadOf(db)?.stale.add(ticketId);
}

/** A case opened in this unit under `number`. */
export function caseOpened(db: Queryable, number: number): void {
  aheadOf(db)?.numbersOpened.add(number);
}

/** Message-IDs recorded in this unit as threading into a case (thread-ids.ts). */
export function threadIdsWritten(db: Queryable, ids: readonly string[]): void {
  const ahead = aheadOf(db);
  if (ahead) for (const id of ids) ahead.idsAdded.add(id);
}

const covers = (ahead: ThreadsAhead, ask: ThreadAsk): boolean =>
  (ask.number === undefined || ahead.numbers.has(ask.number)) &&
  askedThreadIds(ask.ids).every((id) => ahead.ids.has(id));

/** Mails read ahead in one statement, and Message-IDs (in powers of two, the list padded with its last value). */
const AHEAD_MOST = 64;
const IDS_MOST = 512;

/**
 * Reads the cases that `first` and `later` (mails of the same batch, ready before their turn) name, by Message-ID
 * and by case number, in one statement, unless `first` was read ahead already or no mail is ready after it (its own
 * look-up is as good). On PostgreSQL the statement locks every case it finds, in the order of their ids (two
 * instances reading ahead lock in the same order), until the batch commits; a case another transaction changed while
 * the lock waited is marked stale (its people were read before that commit), as is every case the batch writes
 * afterwards. Rows another process commits after this read (a thread id of a case on another mailbox) are not seen,
 * as they would not be by a read a moment earlier.
 */
export async function lookAheadThreads(uow: UnitOfWork, first: ThreadAsk, later: readonly ThreadAsk[]): Promise<void> {
  const ahead = uow.memo(THREADS_AHEAD) ?? {
    ids: new Set(),
    numbers: new Set(),
    byId: new Map(),
    byNumber: new Map(),
    views: new Map(),
    stale: new Set(),
    idsAdded: new Set(),
    numbersOpened: new Set(),
  };
  if (covers(ahead, first)) return;
  const ids = new Set<string>();
  const numbers = new Set<number>();
  let taken = 0;
  for (const ask of [first, ...later]) {
    if (taken === AHEAD_MOST) break;
    if (taken > 0 && covers(ahead, ask)) continue;
    const mine = askedThreadIds(ask.ids);
    if (taken > 0 && ids.size + mine.length > IDS_MOST) break;
    for (const id of mine) ids.add(id);
    if (ask.number !== undefined) numbers.add(ask.number);
    taken++;
  }
  if (taken === 1) return;
  const found = await readCases(uow, padded([...ids]), padded([...numbers]));
  for (const id of ids) {
    ahead.ids.add(id);
    ahead.idsAdded.delete(id);
    ahead.byId.set(id, []);
  }
  for (const n of numbers) {
    ahead.numbers.add(n);
    ahead.numbersOpened.delete(n);
    ahead.byNumber.delete(n);
  }
  // Read just now, after what the unit wrote: fresh, unless another transaction changed it while the lock waited.
  for (const [id, { view, moved }] of found.cases) {
    ahead.views.set(id, view);
    if (moved) ahead.stale.add(id);
    else ahead.stale.delete(id);
    if (numbers.has(view.number)) ahead.byNumber.set(view.number, id);
  }
  for (const [messageId, cases] of found.byId) ahead.byId.set(messageId, cases);
  uow.setMemo(THREADS_AHEAD, ahead);
}

/**
 * The thread look-up of a mail (`ask`) from what was read ahead, or undefined when it must read (not read ahead, or
 * it names a case, a Message-ID or a case number the unit wrote since). `tagged`: the case of its subject's number.
 * `locked` as lockTicketViewsByThreadIds, the tagged case included: the read ahead locked it too.
 */
export function threadsFromMemory(
  db: Queryable,
  ask: ThreadAsk,
): { views: TicketView[]; locked: Map<number, boolean>; tagged?: TicketView } | undefined {
  const ahead = aheadOf(db);
  if (!ahead || !covers(ahead, ask)) return undefined;
  const rank = new Map<number, number>();
  for (const [i, id] of askedThreadIds(ask.ids).entries()) {
    if (ahead.idsAdded.has(id)) return undefined;
    for (const c of ahead.byId.get(id) ?? []) if (!rank.has(c)) rank.set(c, i);
  }
  const tagged = ask.number === undefined ? undefined : ahead.byNumber.get(ask.number);
  if (ask.number !== undefined && tagged === undefined && ahead.numbersOpened.has(ask.number)) return undefined;
  const cases = [...rank.keys()];
  if (tagged !== undefined) cases.push(tagged);
  if (cases.some((c) => ahead.stale.has(c))) return undefined;
  // Copies: a mail's context is its own.
  const copy = (c: number): TicketView => {
    const v = ahead.views.get(c)!;
    return { ...v, participants: v.participants.slice() };
  };
  const locked = new Map<number, boolean>();
  if (isPostgres(db)) for (const c of cases) locked.set(c, false);
  const ranked = [...rank].map(([c, r]) => ({ view: copy(c), rank: r }));
  return { views: viewsInOrder(ranked), locked, tagged: tagged === undefined ? undefined : copy(tagged) };
}

/**
 * The cases the read ahead found for `asks`, by Message-ID and by number, as read: what the notices of those mails
 * will be about (notice-thread-read.ts). A case the unit changed since is named all the same: only which case it is
 * and whom its news goes to is asked of it, and a guess the mail's turn proves wrong costs that notice a read.
 */
export function casesNamedAhead(db: Queryable, asks: readonly ThreadAsk[]): Ticket[] {
  const ahead = aheadOf(db);
  const out = new Map<number, Ticket>();
  if (!ahead) return [];
  const add = (id: number | undefined) => {
    const view = id === undefined ? undefined : ahead.views.get(id);
    if (view) out.set(view.id, view);
  };
  for (const ask of asks) {
    for (const id of askedThreadIds(ask.ids)) for (const c of ahead.byId.get(id) ?? []) add(c);
    if (ask.number !== undefined) add(ahead.byNumber.get(ask.number));
  }
  return [...out.values()];
}

/** The cases `ids` and `numbers` name, with their people, locked on PostgreSQL in the order of their ids. */
async function readCases(
  uow: UnitOfWork,
  ids: readonly string[],
  numbers: readonly number[],
): Promise<{ cases: Map<number, { view: TicketView; moved: boolean }>; byId: Map<string, number[]> }> {
  const lock = isPostgres(uow);
  const parts: string[] = [];
  const bindings: unknown[] = [];
  let cases = new Set<number>();
  if (ids.length) {
    const source = threadIdsAsked(uow, ids);
    parts.push(source.sql);
    bindings.push(...source.bindings);
    cases = source.cases;
  }
  bindings.push(...numbers);
  if (numbers.length)
    parts.push(
      'select cast(null as text) as "k", "id" as "ticket_id" from "tickets" ' +
        `where "number" in ${placeholders(1, numbers.length)}`,
    );
  const sql =
    'select "x"."k" as "thread_message_id", "t".*, "p"."address" as "participant_address", ' +
    `"p"."role" as "participant_role"${lock ? MOVED : ''} from (${parts.join(' union all ')}) as "x" ` +
    'join "tickets" as "t" on "t"."id" = "x"."ticket_id" ' +
    'left join "participants" as "p" on "p"."ticket_id" = "t"."id" ' +
    `order by "t"."id"${lock ? ' for update of "t"' : ''}`;
  const found = await rows(uow, sql, bindings, fromMemory(cases, numbers));
  const read = new Map<number, { view: TicketView; moved: boolean; people: Set<string> }>();
  const byId = new Map<string, number[]>();
  for (const r of found) {
    const id = Number(r.id);
    let c = read.get(id);
    if (!c) read.set(id, (c = { view: { ...toTicket(r), participants: [] }, moved: false, people: new Set() }));
    if (lock && r.moved === true) c.moved = true;
    if (r.thread_message_id !== null && r.thread_message_id !== undefined) {
      let list = byId.get(r.thread_message_id);
      if (!list) byId.set(r.thread_message_id, (list = []));
      if (!list.includes(id)) list.push(id);
    }
    if (r.participant_address !== null && r.participant_address !== undefined && !c.people.has(r.participant_address)) {
      c.people.add(r.participant_address);
      (c.view.participants as Participant[]).push({ address: r.participant_address, role: r.participant_role });
    }
  }
  addWaitingPeople(uow, read);
  return { cases: read, byId };
}
