import type { Db } from '../knex.ts';
import type { Participant, Priority, Role, Stage, Ticket, TicketView, WaitingOn } from '../../tickets/types.ts';

/** Cases, their people, messages, attachments, thread ids and event log. SQL only; no rules. */

const num = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : Number(v));
const str = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));

export function toTicket(r: any): Ticket {
  return {
    id: Number(r.id), number: Number(r.number), subject: r.subject, requester: r.requester,
    requesterName: str(r.requester_name), organization: r.organization, category: str(r.category),
    product: str(r.product), priority: r.priority as Priority, stage: r.stage as Stage,
    waitingOn: r.waiting_on as WaitingOn, assignee: str(r.assignee), relatedNumber: num(r.related_number),
    relatedReason: str(r.related_reason), rating: str(r.rating), ratingComment: str(r.rating_comment),
    createdAt: Number(r.created_at), updatedAt: Number(r.updated_at), firstResponseAt: num(r.first_response_at),
    closedAt: num(r.closed_at),
  };
}

/** The next case number, inside the caller's transaction: the row lock (PostgreSQL) or the write lock (SQLite)
 * serialises concurrent openings, and a rollback gives the number back, so numbers have no gaps. */
export async function nextTicketNumber(trx: Db): Promise<number> {
  // One statement: UPDATE … RETURNING (SQLite ≥ 3.35, PostgreSQL) takes the lock and reads the new value.
  const [row] = await trx('counters').where({ name: 'ticket_number' }).increment('value', 1).returning('value');
  return Number(typeof row === 'object' ? row.value : row);
}

export interface NewTicket {
  number: number; subject: string; requester: string; requesterName?: string; organization: string;
  category?: string; priority: Priority; stage: Stage; waitingOn: WaitingOn; mailbox?: string;
  relatedNumber?: number; relatedReason?: string; now: number;
}

export async function insertTicket(trx: Db, t: NewTicket): Promise<Ticket> {
  const row = {
    number: t.number, subject: t.subject, requester: t.requester, requester_name: t.requesterName ?? null,
    organization: t.organization, category: t.category ?? null, priority: t.priority, stage: t.stage,
    waiting_on: t.waitingOn, mailbox: t.mailbox ?? null, related_number: t.relatedNumber ?? null,
    related_reason: t.relatedReason ?? null, created_at: t.now, updated_at: t.now,
  };
  const [inserted] = await trx('tickets').insert(row).returning('id');
  const id = typeof inserted === 'object' ? inserted.id : inserted;
  return toTicket({ ...row, id });
}

export async function updateTicket(trx: Db, id: number, patch: Record<string, unknown>): Promise<void> {
  await trx('tickets').where({ id }).update(patch);
}

export async function findTicketByNumber(db: Db, number: number): Promise<Ticket | undefined> {
  const r = await db('tickets').where({ number }).first();
  return r ? toTicket(r) : undefined;
}

export async function findTicketById(db: Db, id: number): Promise<Ticket | undefined> {
  const r = await db('tickets').where({ id }).first();
  return r ? toTicket(r) : undefined;
}

export async function participantsOf(db: Db, ticketId: number): Promise<Participant[]> {
  const rows = await db('participants').where({ ticket_id: ticketId }).select('address', 'role');
  return rows.map((r: any) => ({ address: r.address, role: r.role }));
}

export async function viewOf(db: Db, t: Ticket | undefined): Promise<TicketView | undefined> {
  return t ? { ...t, participants: await participantsOf(db, t.id) } : undefined;
}

export async function ticketIdsByThreadIds(db: Db, ids: readonly string[]): Promise<number[]> {
  if (ids.length === 0) return [];
  const rows = await db('thread_ids').whereIn('message_id', ids.slice(0, 200)).distinct('ticket_id');
  return rows.map((r: any) => Number(r.ticket_id));
}

/** Adds the people not on the case yet. `newCase`: the case was inserted in this transaction and has nobody yet,
 * so the read of its participants is skipped. */
export async function addParticipants(trx: Db, ticketId: number, people: readonly Participant[], now: number, opts: { newCase?: boolean } = {}): Promise<void> {
  if (!people.length) return;
  const seen = new Set(opts.newCase ? [] : (await participantsOf(trx, ticketId)).map((p) => p.address));
  const fresh = people.filter((p) => !seen.has(p.address) && seen.add(p.address));
  if (fresh.length) await trx('participants').insert(fresh.map((p) => ({ ticket_id: ticketId, address: p.address, role: p.role, added_at: now })));
}

export async function addThreadIds(trx: Db, ticketId: number, ids: readonly string[]): Promise<void> {
  const unique = [...new Set(ids.filter((i) => i && i.length < 998))];
  if (!unique.length) return;
  await trx('thread_ids').insert(unique.map((message_id) => ({ message_id, ticket_id: ticketId }))).onConflict(['message_id', 'ticket_id']).ignore();
}

export interface NewMessage {
  ticketId: number; role: Role; source: 'mail' | 'web' | 'system'; fromAddress?: string; fromName?: string;
  to?: string[]; cc?: string[]; messageId?: string; subject?: string; bodyText: string; fullText?: string;
  htmlSha256?: string; rawSha256?: string; internal: boolean; verified: boolean; noteKind?: string;
  sentAt?: number; createdAt: number;
  attachments: Array<{ filename: string; contentType: string; size: number; sha256: string; contentId?: string; inline: boolean }>;
}

export async function insertMessage(trx: Db, m: NewMessage): Promise<number> {
  const [inserted] = await trx('messages').insert({
    ticket_id: m.ticketId, role: m.role, source: m.source, from_address: m.fromAddress ?? null, from_name: m.fromName ?? null,
    to_json: m.to ? JSON.stringify(m.to) : null, cc_json: m.cc ? JSON.stringify(m.cc) : null,
    message_id: m.messageId ?? null, subject: m.subject ?? null, body_text: m.bodyText, full_text: m.fullText ?? null,
    html_sha256: m.htmlSha256 ?? null, raw_sha256: m.rawSha256 ?? null, internal: m.internal, verified: m.verified,
    note_kind: m.noteKind ?? null, sent_at: m.sentAt ?? null, created_at: m.createdAt,
  }).returning('id');
  const id = Number(typeof inserted === 'object' ? inserted.id : inserted);
  if (m.attachments.length) {
    await trx('attachments').insert(m.attachments.map((a) => ({
      message_id: id, filename: a.filename, content_type: a.contentType, size: a.size, sha256: a.sha256,
      content_id: a.contentId ?? null, inline: a.inline,
    })));
  }
  return id;
}

export interface NewEvent {
  ticketId: number; type: string; actor?: string; from?: string; to?: string; reason?: string;
  data?: Record<string, unknown>; at: number;
}

export async function insertEvent(trx: Db, e: NewEvent): Promise<void> {
  await trx('events').insert({
    ticket_id: e.ticketId, type: e.type, actor: e.actor ?? null, from_value: e.from ?? null, to_value: e.to ?? null,
    reason: e.reason ?? null, data_json: e.data ? JSON.stringify(e.data) : null, created_at: e.at,
  });
}

export async function listTickets(db: Db, opts: { limit?: number; openOnly?: boolean } = {}): Promise<Ticket[]> {
  let q = db('tickets').orderBy('number', 'desc').limit(opts.limit ?? 200);
  if (opts.openOnly) q = q.whereNot({ stage: 'cerrado' });
  return (await q).map(toTicket);
}

export async function messagesOf(db: Db, ticketId: number): Promise<any[]> {
  return db('messages').where({ ticket_id: ticketId }).orderBy([{ column: 'created_at' }, { column: 'id' }]);
}

export async function attachmentsOf(db: Db, messageIds: number[]): Promise<any[]> {
  if (!messageIds.length) return [];
  return db('attachments').whereIn('message_id', messageIds).orderBy('id');
}

export async function eventsOf(db: Db, ticketId: number): Promise<any[]> {
  return db('events').where({ ticket_id: ticketId }).orderBy([{ column: 'created_at' }, { column: 'id' }]);
}
