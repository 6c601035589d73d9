import { knexOf, placeholders, rows, type Queryable } from '../sql.ts';
import type { Knex } from 'knex';
import { isPostgres } from '../knex.ts';
import { toTicket } from './tickets.ts';
import type { ClockEvent } from '../../tickets/sla.ts';
import type { Stage, Ticket, WaitingOn } from '../../tickets/types.ts';

/**
 * "Mis casos": the cases a customer may list. The scope is always an organization, and, unless that organization
 * shares its list, the cases the viewer is on (requester or CC). Callers build the scope from a verified link,
 * never from the request.
 */
export type CaseListScope =
  | {
      organization: string;
      /** Only the cases this address is on; undefined = every case of the organization. */
      participant?: string;
    }
  /** The consultants' list (a signed consultant link): every organization. */
  | { allOrganizations: true };

export interface CaseListFilter {
  number?: number;
  stages?: readonly Stage[];
  product?: string;
  assignee?: string;
  waitingOn?: WaitingOn;
  text?: string;
}

export type CaseListOrder = 'recientes' | 'antiguos' | 'numero' | 'actualizados';

const ORDER: Record<CaseListOrder, Array<{ column: string; order: 'asc' | 'desc' }>> = {
  recientes: [
    { column: 'created_at', order: 'desc' },
    { column: 'number', order: 'desc' },
  ],
  antiguos: [
    { column: 'created_at', order: 'asc' },
    { column: 'number', order: 'asc' },
  ],
  numero: [{ column: 'number', order: 'desc' }],
  actualizados: [
    { column: 'updated_at', order: 'desc' },
    { column: 'number', order: 'desc' },
  ],
};

function scoped(queryable: Queryable, scope: CaseListScope): Knex.QueryBuilder {
  const db = knexOf(queryable);
  if ('allOrganizations' in scope) return db('tickets');
  const q = db('tickets').where('tickets.organization', scope.organization);
  if (scope.participant !== undefined) {
    const who = scope.participant.toLowerCase();
    q.andWhere((w) => {
      w.where('tickets.requester', who).orWhereExists(
        db('participants')
          .select(db.raw('1'))
          .whereRaw('"participants"."ticket_id" = "tickets"."id"')
          .andWhere('participants.address', who)
          .whereIn('participants.role', ['requester', 'cc']),
      );
    });
  }
  return q;
}

function filtered(db: Queryable, scope: CaseListScope, f: CaseListFilter): Knex.QueryBuilder {
  const q = scoped(db, scope);
  if (f.number !== undefined) q.andWhere('tickets.number', f.number);
  if (f.stages?.length) q.whereIn('tickets.stage', [...f.stages]);
  if (f.product !== undefined) q.andWhere('tickets.product', f.product);
  if (f.assignee !== undefined) q.andWhere('tickets.assignee', f.assignee);
  if (f.waitingOn !== undefined) q.andWhere('tickets.waiting_on', f.waitingOn).whereNot('tickets.stage', 'cerrado');
  if (f.text) {
    // The text is a bound value; its LIKE wildcards are escaped so "100%" means those characters.
    const pattern = `%${f.text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    q.andWhere((w) => {
      const op = isPostgres(db) ? 'ilike' : 'like';
      w.whereRaw(`"tickets"."subject" ${op} ? escape '\\'`, [pattern]).orWhereRaw(
        `"tickets"."product_module" ${op} ? escape '\\'`,
        [pattern],
      );
    });
  }
  return q;
}

/** Where a page of the list starts or ends: the order's date (none for 'numero') and the case number. */
export interface CaseListKey {
  at?: number;
  number: number;
}

/** The date column each order sorts by before the number; 'numero' sorts by the number alone. */
const KEY_COLUMN: Record<CaseListOrder, string | undefined> = {
  recientes: 'created_at',
  antiguos: 'created_at',
  numero: undefined,
  actualizados: 'updated_at',
};

export const keyOf = (t: Ticket, order: CaseListOrder): CaseListKey => ({
  at: KEY_COLUMN[order] === 'updated_at' ? t.updatedAt : KEY_COLUMN[order] ? t.createdAt : undefined,
  number: t.number,
});

/**
 * A page of the list: `offset`, or the cases right after `after` (the next page) or right before `before` (the
 * previous one, read in the opposite order and turned back). A key is a row's position in the order: the index on
 * (organization, date) finds it without counting the rows in front, as OFFSET does. One row more than `limit` is
 * read to know whether the list goes on in that direction (`more`).
 */
export async function findCasesInScope(
  db: Queryable,
  scope: CaseListScope,
  f: CaseListFilter,
  order: CaseListOrder,
  page: { limit: number; offset?: number; after?: CaseListKey; before?: CaseListKey },
): Promise<{ tickets: Ticket[]; more: boolean }> {
  const key = page.after ?? page.before;
  const backwards = !page.after && page.before !== undefined;
  // Only open stages asked: a desk's open cases are few beside its closed ones. Without statistics, SQLite would walk
  // the (organization, date) index in the list's order and read every closed case past the last open one (looking
  // for one row more than the page); ordering by "+column" (the unary plus, sqlite.org/optoverview.html) turns that
  // walk off, and it reads the (organization, stage) index and sorts those few cases instead.
  const plus = f.stages?.length && !f.stages.includes('cerrado') ? '+' : '';
  const sql = ORDER[order]
    .map((o) => `${plus}"tickets"."${o.column}" ${(o.order === 'desc') !== backwards ? 'desc' : 'asc'}`)
    .join(', ');
  const q = filtered(db, scope, f)
    .select('tickets.*')
    .orderByRaw(sql)
    .limit(page.limit + 1);
  if (key) {
    // Past the key in the direction read: "<" when that direction is descending.
    const op = (ORDER[order][0].order === 'desc') !== backwards ? '<' : '>';
    const column = KEY_COLUMN[order];
    if (!column || key.at === undefined) q.andWhere('tickets.number', op, key.number);
    else
      q.andWhere(`tickets.${column}`, `${op}=`, key.at).andWhere((w) =>
        w.where(`tickets.${column}`, op, key.at!).orWhere('tickets.number', op, key.number),
      );
  } else if (page.offset) q.offset(page.offset);
  const found = (await q).map(toTicket);
  const more = found.length > page.limit;
  const tickets = found.slice(0, page.limit);
  return { tickets: backwards ? tickets.reverse() : tickets, more };
}

/** How many cases the filter finds, counting no further than `upTo` + 1: past that, the page says "more than". */
export async function countCasesInScope(
  db: Queryable,
  scope: CaseListScope,
  f: CaseListFilter,
  upTo: number,
): Promise<number> {
  const within = filtered(db, scope, f)
    .select(knexOf(db).raw('1'))
    .limit(upTo + 1)
    .as('c');
  const [counted] = await knexOf(db).count({ n: '*' }).from(within);
  return Number((counted as { n: number | string }).n);
}

/** The consultants and products that appear in the scope, for the filter's choices. */
export async function choicesInScope(
  db: Queryable,
  scope: CaseListScope,
): Promise<{ assignees: string[]; products: string[] }> {
  const assignees = await scoped(db, scope)
    .whereNotNull('tickets.assignee')
    .distinct('tickets.assignee')
    .orderBy('tickets.assignee');
  const products = await scoped(db, scope)
    .whereNotNull('tickets.product')
    .distinct('tickets.product')
    .orderBy('tickets.product');
  return {
    assignees: assignees.map((r: any) => String(r.assignee)),
    products: products.map((r: any) => String(r.product)),
  };
}

/** The events the SLA clocks read, for several cases in one query. */
export async function clockEventsOf(
  queryable: Queryable,
  ticketIds: readonly number[],
): Promise<Map<number, ClockEvent[]>> {
  const out = new Map<number, ClockEvent[]>(ticketIds.map((id) => [id, []]));
  for (let i = 0; i < ticketIds.length; i += 500) {
    const some = ticketIds.slice(i, i + 500);
    const asked = new Set(some);
    const found = await rows(
      queryable,
      'select "ticket_id", "type", "to_value", "created_at" from "events" ' +
        `where "ticket_id" in ${placeholders(1, some.length)} order by "ticket_id", "created_at", "id"`,
      some,
      { events: (v) => asked.has(v('ticket_id') as number) },
    );
    for (const r of found)
      out.get(Number(r.ticket_id))?.push({ type: String(r.type), to: r.to_value ?? null, at: Number(r.created_at) });
  }
  return out;
}

/** Internal notes per case (what only consultants see), for the consultants' list. */
export async function internalNotesCount(
  queryable: Queryable,
  ticketIds: readonly number[],
): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  if (!ticketIds.length) return out;
  const sql =
    `select "ticket_id", count(*) as "n" from "messages" where "ticket_id" in ${placeholders(1, ticketIds.length)}` +
    ' and "internal" = ? and "role" <> ? group by "ticket_id"';
  const asked = new Set(ticketIds);
  const found = await rows(queryable, sql, [...ticketIds, true, 'system'], {
    messages: (v) => asked.has(v('ticket_id') as number),
  });
  for (const r of found) out.set(Number(r.ticket_id), Number(r.n));
  return out;
}

/** Of these cases, the ones `address` is on as requester or CC (one query for a page of the list). */
export async function casesWithParticipant(
  db: Queryable,
  ticketIds: readonly number[],
  address: string,
): Promise<Set<number>> {
  if (!ticketIds.length) return new Set();
  const asked = new Set(ticketIds);
  const found = await rows(
    db,
    `select "ticket_id" from "participants" where "ticket_id" in ${placeholders(1, ticketIds.length)}` +
      ' and "address" = ? and "role" in (?, ?)',
    [...ticketIds, address, 'requester', 'cc'],
    { participants: (v) => asked.has(v('ticket_id') as number) },
  );
  return new Set(found.map((r) => Number(r.ticket_id)));
}
