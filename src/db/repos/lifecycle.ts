import { knexOf, placeholders, rows as sqlRows, type Queryable } from '../sql.ts';
import { isPostgres } from '../knex.ts';
import { toTicket } from './tickets.ts';
import type { OpenCaseCounts } from '../../tickets/organization.ts';
import type { Ticket } from '../../tickets/types.ts';

/** Held requests, once-a-day marks, and the case look-ups the lifecycle jobs need. SQL only; no rules. */

export interface HeldRequest {
  id: number;
  organization: string;
  requester: string;
  reason: 'over_limit' | 'not_entitled';
  subject: string;
  messageId?: string;
  rawSha256?: string;
  caseJson: string;
  state: 'held' | 'opened' | 'dismissed';
  ticketId?: number;
  createdAt: number;
  resolvedAt?: number;
}

const toHeld = (r: any): HeldRequest => ({
  id: Number(r.id),
  organization: r.organization,
  requester: r.requester,
  reason: r.reason,
  subject: r.subject,
  messageId: r.message_id ?? undefined,
  rawSha256: r.raw_sha256 ?? undefined,
  caseJson: r.case_json,
  state: r.state,
  ticketId: r.ticket_id == null ? undefined : Number(r.ticket_id),
  createdAt: Number(r.created_at),
  resolvedAt: r.resolved_at == null ? undefined : Number(r.resolved_at),
});

export async function insertHeld(
  queryable: Queryable,
  h: Omit<HeldRequest, 'id' | 'state' | 'ticketId' | 'resolvedAt'>,
): Promise<HeldRequest> {
  const trx = knexOf(queryable);
  const row = {
    organization: h.organization,
    requester: h.requester,
    reason: h.reason,
    subject: h.subject,
    message_id: h.messageId ?? null,
    raw_sha256: h.rawSha256 ?? null,
    case_json: h.caseJson,
    state: 'held',
    created_at: h.createdAt,
  };
  const [inserted] = await trx('held_requests').insert(row).returning('id');
  return toHeld({ ...row, id: typeof inserted === 'object' ? inserted.id : inserted });
}

export async function heldRequests(
  queryable: Queryable,
  opts: { state?: HeldRequest['state']; reason?: HeldRequest['reason'] } = {},
): Promise<HeldRequest[]> {
  const db = knexOf(queryable);
  const q = db('held_requests').orderBy([{ column: 'created_at' }, { column: 'id' }]);
  if (opts.state) q.where({ state: opts.state });
  if (opts.reason) q.where({ reason: opts.reason });
  return (await q).map(toHeld);
}

/** Marks a held request opened, only if still held (two job runners at once: one wins). */
export async function markHeldOpened(
  queryable: Queryable,
  id: number,
  ticketId: number,
  now: number,
): Promise<boolean> {
  const trx = knexOf(queryable);
  return (
    (await trx('held_requests')
      .where({ id, state: 'held' })
      .update({ state: 'opened', ticket_id: ticketId, resolved_at: now })) === 1
  );
}

export async function openTicketsOf(queryable: Queryable, organization: string): Promise<Ticket[]> {
  const db = knexOf(queryable);
  return (await db('tickets').where({ organization }).whereNot({ stage: 'cerrado' }).orderBy('number')).map(toTicket);
}

/** The first key of the per-organization advisory lock; src/db/leases.ts's mailbox locks use 0x4d657361. */
const ORGANIZATION_LOCK_CLASS = 0x4d65734f; // "MesO"

/**
 * The organization's open cases, and of them those opened by mail that proved its sender (tickets.opened_proven),
 * counted against its limit in its turn: the organization is locked until the caller's transaction ends (PostgreSQL:
 * a transaction-level advisory lock; SQLite has one writer at a time). Two instances opening a case for the same
 * organization, or releasing one of its held requests, then count one after the other, and the limit holds.
 */
export async function countOpenTicketsInTurn(queryable: Queryable, organization: string): Promise<OpenCaseCounts> {
  const trx = knexOf(queryable);
  if (isPostgres(trx))
    await trx.raw('select pg_advisory_xact_lock(?, hashtext(?))', [ORGANIZATION_LOCK_CLASS, organization]);
  const r = await trx('tickets')
    .where({ organization })
    .whereNot({ stage: 'cerrado' })
    .first(trx.raw('count(*) as n'), trx.raw('sum(case when opened_proven then 1 else 0 end) as p'));
  return { open: Number(r?.n ?? 0), proven: Number(r?.p ?? 0) };
}

export async function openTickets(queryable: Queryable): Promise<Array<Ticket & { slaLight?: string }>> {
  const db = knexOf(queryable);
  return (await db('tickets').whereNot({ stage: 'cerrado' }).orderBy('number')).map((r: any) => ({
    ...toTicket(r),
    slaLight: r.sla_light ?? undefined,
  }));
}

export interface EventRow {
  ticketId: number;
  type: string;
  to?: string;
  at: number;
  internal?: boolean;
}

/** The clock-relevant events of many cases at once, grouped by case (one query, not one per case). */
const CLOCK_EVENTS = ['waiting_changed', 'stage_changed', 'consultant_message', 'autoclose_warning'];

export async function lifecycleEventsOf(queryable: Queryable, ticketIds: number[]): Promise<Map<number, EventRow[]>> {
  const out = new Map<number, EventRow[]>();
  for (let i = 0; i < ticketIds.length; i += 500) {
    const some = ticketIds.slice(i, i + 500);
    const asked = new Set(some);
    const rows = await sqlRows(
      queryable,
      `select * from "events" where "ticket_id" in ${placeholders(1, some.length)} and "type" in (?, ?, ?, ?)` +
        ' order by "created_at", "id"',
      [...some, ...CLOCK_EVENTS],
      { events: (v) => asked.has(v('ticket_id') as number) },
    );
    for (const r of rows) {
      const id = Number(r.ticket_id);
      const data = r.data_json ? JSON.parse(r.data_json) : {};
      if (!out.has(id)) out.set(id, []);
      out.get(id)!.push({
        ticketId: id,
        type: r.type,
        to: r.to_value ?? undefined,
        at: Number(r.created_at),
        internal: Boolean(data.internal),
      });
    }
  }
  return out;
}

export async function setSlaLight(queryable: Queryable, ticketId: number, light: string): Promise<void> {
  const trx = knexOf(queryable);
  await trx('tickets').where({ id: ticketId }).update({ sla_light: light });
}

export async function getMark(queryable: Queryable, name: string): Promise<string | undefined> {
  const db = knexOf(queryable);
  return (await db('job_marks').where({ name }).first())?.value;
}

/** Sets a mark unless it already has this value; true when this call set it (the job should run). */
export async function claimMark(queryable: Queryable, name: string, value: string, now: number): Promise<boolean> {
  const trx = knexOf(queryable);
  const current = await trx('job_marks').where({ name }).first();
  if (current?.value === value) return false;
  if (current)
    return (await trx('job_marks').where({ name, value: current.value }).update({ value, updated_at: now })) === 1;
  // Only the one whose row went in: another instance inserting the same mark at the same moment gets no row back.
  const inserted = await trx('job_marks')
    .insert({ name, value, updated_at: now })
    .onConflict('name')
    .ignore()
    .returning('name');
  return inserted.length === 1;
}
