import { isPostgres } from '../knex.ts';
import { padded, placeholders, rows, waitingRows, type Queryable } from '../sql.ts';
import type { WaitingThatMatters } from '../later-rows.ts';
import type { Participant, TicketView } from '../../tickets/types.ts';
import { toTicket } from './ticket-row.ts';

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
export const MOVED = `, "t"."ctid" <> (select "o"."ctid" from "tickets" as "o" where "o"."id" = "t"."id") as "moved"`;

async function threadViews(
  db: Queryable,
  ids: readonly string[],
  lock: boolean,
): Promise<{ views: TicketView[]; locked: Map<number, boolean> }> {
  const locked = new Map<number, boolean>();
  const asked = askedThreadIds(ids);
  if (asked.length === 0) return { views: [], locked };
  const source = threadIdsAsked(db, asked);
  const sql =
    'select "x"."k" as "thread_message_id", "t".*, "p"."address" as "participant_address", ' +
    `"p"."role" as "participant_role"${lock ? MOVED : ''} from (${source.sql}) as "x" ` +
    'join "tickets" as "t" on "t"."id" = "x"."ticket_id" ' +
    'left join "participants" as "p" on "p"."ticket_id" = "t"."id"' +
    (lock ? ' for update of "t"' : '');
  const found = await rows(db, sql, source.bindings, fromMemory(source.cases));
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
  addWaitingPeople(db, views);
  return { views: viewsInOrder([...views.values()]), locked };
}

/**
 * For a look-up that adds what an earlier mail of the same batch left waiting from memory, instead of having the
 * batch written first: thread ids (threadIdsAsked) and people (addWaitingPeople). A flush in the middle of a batch
 * writes every table's waiting rows, one statement each.
 */
export const FROM_MEMORY = { thread_ids: () => false, participants: () => false };

/**
 * FROM_MEMORY for a read that joins the cases its thread ids name: a new case of the batch still waiting
 * (tickets.ts) matters when one of those thread ids is its (`cases`, threadIdsAsked) or the read asks its `numbers`;
 * then the batch is written first. The others wait.
 */
export function fromMemory(cases: ReadonlySet<number>, numbers: readonly number[] = []): WaitingThatMatters {
  const asked = new Set(numbers);
  return {
    ...FROM_MEMORY,
    tickets: {
      test: (v) => cases.has(Number(v('id'))) || asked.has(Number(v('number'))),
      narrow: [
        { column: 'id', values: cases },
        { column: 'number', values: asked },
      ],
    },
  };
}

/**
 * The thread ids `asked` as a derived table of (k, ticket_id): those in the table and those an earlier mail of the
 * same batch left waiting (addThreadIds), as values of the statement, and the cases those waiting ones name. A pair
 * in both comes twice: a reader keeps each case once.
 */
export function threadIdsAsked(
  db: Queryable,
  asked: readonly string[],
): { sql: string; bindings: unknown[]; cases: Set<number> } {
  const wanted = new Set(asked);
  // Padded as the read-aheads' lists are: a few texts whatever the count (prepared statements are kept by text).
  const pending = padded(
    waitingRows(db, 'thread_ids', {
      test: (v) => wanted.has(v('message_id') as string),
      narrow: [{ column: 'message_id', values: wanted }],
    }),
  );
  const parts = [
    `select "message_id" as "k", "ticket_id" from "thread_ids" where "message_id" in ${placeholders(1, asked.length)}`,
  ];
  const bindings: unknown[] = [...asked];
  for (const w of pending) {
    parts.push('select cast(? as text), cast(? as bigint)');
    bindings.push(w.message_id, w.ticket_id);
  }
  return { sql: parts.join(' union all '), bindings, cases: new Set(pending.map((w) => Number(w.ticket_id))) };
}

/** The people an earlier mail of the same batch left waiting (addParticipants) on the cases found, each once. */
export function addWaitingPeople(
  db: Queryable,
  cases: ReadonlyMap<number, { view: TicketView; people: Set<string> }>,
): void {
  if (!cases.size) return;
  const test = (v: (column: string) => unknown) => cases.has(Number(v('ticket_id')));
  for (const p of waitingRows(db, 'participants', { test, narrow: [{ column: 'ticket_id', values: cases.keys() }] })) {
    const c = cases.get(Number(p.ticket_id))!;
    const address = String(p.address);
    if (c.people.has(address)) continue;
    c.people.add(address);
    (c.view.participants as Participant[]).push({ address, role: p.role as Participant['role'] });
  }
}

/** The views by rank: the case of the nearest Message-ID first, the older case first between equals. */
export function viewsInOrder(ranked: Array<{ view: TicketView; rank: number }>): TicketView[] {
  return ranked.sort((a, b) => a.rank - b.rank || a.view.id - b.view.id).map((r) => r.view);
}

/** The Message-IDs a look-up asks for: each once, in order of preference, at most 200 (a mail's References can be
 * long; the nearest come first). */
export function askedThreadIds(ids: readonly string[]): string[] {
  return [...new Set(ids)].slice(0, 200);
}
