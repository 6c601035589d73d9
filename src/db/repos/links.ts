import type { Db } from '../knex.ts';

/** Magic links (hashed). SQL only. */

export interface LinkRow {
  id: number; ticketId: number; number: number; recipient: string; generation: number; tokenHash: string;
  expiresAt: number; revokedAt?: number; revokedReason?: string;
}

const toRow = (r: any): LinkRow => ({
  id: Number(r.id), ticketId: Number(r.ticket_id), number: Number(r.number), recipient: r.recipient, generation: Number(r.generation),
  tokenHash: r.token_hash, expiresAt: Number(r.expires_at), revokedAt: r.revoked_at == null ? undefined : Number(r.revoked_at),
  revokedReason: r.revoked_reason ?? undefined,
});

const withNumber = (db: Db) => db('links').join('tickets', 'tickets.id', 'links.ticket_id').select('links.*', 'tickets.number');

export async function findLinkByHash(db: Db, hash: string): Promise<LinkRow | undefined> {
  const r = await withNumber(db).where('links.token_hash', hash).first();
  return r ? toRow(r) : undefined;
}

/** The newest link of a recipient on a case that is neither revoked nor expiring before `validAfter`. */
export async function findUsableLink(db: Db, ticketId: number, recipient: string, validAfter: number): Promise<LinkRow | undefined> {
  const r = await withNumber(db)
    .where({ 'links.ticket_id': ticketId, 'links.recipient': recipient })
    .whereNull('links.revoked_at')
    .where('links.expires_at', '>', validAfter)
    .orderBy('links.generation', 'desc')
    .first();
  return r ? toRow(r) : undefined;
}

export async function lastGeneration(db: Db, ticketId: number, recipient: string): Promise<number> {
  const r = await db('links').where({ ticket_id: ticketId, recipient }).max({ g: 'generation' }).first();
  return Number(r?.g ?? 0);
}

export async function insertLink(db: Db, row: { ticketId: number; recipient: string; generation: number; tokenHash: string; expiresAt: number; now: number }): Promise<number> {
  const [inserted] = await db('links').insert({
    ticket_id: row.ticketId, recipient: row.recipient, generation: row.generation, token_hash: row.tokenHash,
    expires_at: row.expiresAt, created_at: row.now,
  }).returning('id');
  return Number(typeof inserted === 'object' ? inserted.id : inserted);
}

export async function revokeLinkRow(db: Db, id: number, now: number, reason: string): Promise<number> {
  return db('links').where({ id }).whereNull('revoked_at').update({ revoked_at: now, revoked_reason: reason });
}

export async function revokeLinksOfTicket(db: Db, ticketId: number, now: number, reason: string): Promise<number> {
  return db('links').where({ ticket_id: ticketId }).whereNull('revoked_at').update({ revoked_at: now, revoked_reason: reason });
}

export async function touchLinkRow(db: Db, id: number, now: number): Promise<void> {
  await db('links').where({ id }).update({ last_used_at: now });
}
