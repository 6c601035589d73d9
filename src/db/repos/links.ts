import { insertLater, placeholders, row, rows, run, type Queryable } from '../sql.ts';
import type { Ticket } from '../../tickets/types.ts';
import { forgetNoticeThreads, linkWrittenAhead } from './notice-thread-ahead.ts';
import { toTicket } from './tickets.ts';

/** Magic links (hashed). SQL only. */

export interface LinkRow {
  id: number;
  ticketId: number;
  number: number;
  recipient: string;
  generation: number;
  tokenHash: string;
  expiresAt: number;
  revokedAt?: number;
  revokedReason?: string;
  lastUsedAt?: number;
}

const toRow = (r: any): LinkRow => ({
  id: Number(r.id),
  ticketId: Number(r.ticket_id),
  number: Number(r.number),
  recipient: r.recipient,
  generation: Number(r.generation),
  tokenHash: r.token_hash,
  expiresAt: Number(r.expires_at),
  revokedAt: r.revoked_at == null ? undefined : Number(r.revoked_at),
  revokedReason: r.revoked_reason ?? undefined,
  lastUsedAt: r.last_used_at == null ? undefined : Number(r.last_used_at),
});

export async function findLinkByHash(db: Queryable, hash: string): Promise<LinkRow | undefined> {
  const r = await row(
    db,
    'select "links".*, "tickets"."number" from "links" inner join "tickets" on "tickets"."id" = "links"."ticket_id"' +
      ' where "links"."token_hash" = ? limit 1',
    [hash],
    { links: (v) => v('token_hash') === hash },
  );
  return r ? toRow(r) : undefined;
}

/** The link's columns beside the case's own (`tickets`.*): a page opened by a link reads both in one statement. */
const LINK_AS = ['id', 'ticket_id', 'recipient', 'generation', 'token_hash', 'expires_at', 'revoked_at']
  .concat(['revoked_reason', 'last_used_at'])
  .map((c) => `"links"."${c}" as "link_${c}"`)
  .join(', ');

/** A link by its hash with its case's row, as every page a link opens needs both. */
export async function findLinkWithTicketByHash(
  db: Queryable,
  hash: string,
): Promise<{ link: LinkRow; ticket: Ticket } | undefined> {
  const r = await row(
    db,
    `select "tickets".*, ${LINK_AS} from "links" join "tickets" on "tickets"."id" = "links"."ticket_id" ` +
      'where "links"."token_hash" = ?',
    [hash],
  );
  if (!r) return undefined;
  const link: Record<string, unknown> = { number: r.number };
  for (const k of Object.keys(r)) if (k.startsWith('link_')) link[k.slice(5)] = r[k];
  return { link: toRow(link), ticket: toTicket(r) };
}

/** linkGenerations for several cases of one recipient, in one read (a page of the case list). */
export async function linkGenerationsOfCases(
  db: Queryable,
  ticketIds: readonly number[],
  recipient: string,
): Promise<Map<number, ReturnType<typeof generationsOf>>> {
  const out = new Map<number, any[]>(ticketIds.map((id) => [id, []]));
  if (!ticketIds.length) return new Map();
  const found = await rows(
    db,
    'select "ticket_id", "generation", "expires_at", "revoked_at" from "links" ' +
      `where "ticket_id" in ${placeholders(1, ticketIds.length)} and "recipient" = ? order by "generation" desc`,
    [...ticketIds, recipient],
  );
  for (const r of found) out.get(Number(r.ticket_id))?.push(r);
  return new Map([...out].map(([id, list]) => [id, generationsOf(list)]));
}

/**
 * Every generation of a recipient's link on a case, newest first: issuing a link needs the newest usable one
 * and else the last generation, both from these few rows (one per rotation) in one read.
 */
export async function linkGenerations(
  db: Queryable,
  ticketId: number,
  recipient: string,
): Promise<Array<{ generation: number; expiresAt: number; revokedAt?: number }>> {
  // A link issued earlier in the same batch (insertLink) may still wait: written first if it is this one's.
  const found = await rows(
    db,
    'select "generation", "expires_at", "revoked_at" from "links" ' +
      'where "ticket_id" = ? and "recipient" = ? order by "generation" desc',
    [ticketId, recipient],
    { links: (v) => v('ticket_id') === ticketId && v('recipient') === recipient },
  );
  return generationsOf(found);
}

/** The rows as issueLink reads them: numbers (PostgreSQL returns bigint columns as strings), no revocation as
 * undefined. */
export function generationsOf(
  found: readonly any[],
): Array<{ generation: number; expiresAt: number; revokedAt?: number }> {
  return found.map((r) => ({
    generation: Number(r.generation),
    expiresAt: Number(r.expires_at),
    revokedAt: r.revoked_at == null ? undefined : Number(r.revoked_at),
  }));
}

const LINK_COLUMNS = ['ticket_id', 'recipient', 'generation', 'token_hash', 'expires_at', 'created_at'];

/** A new generation of a link; in the ingest's batch written with the batch's others (insertLater): every read and
 * change of links here is plain SQL, which the unit runs after writing them. */
export async function insertLink(
  db: Queryable,
  link: { ticketId: number; recipient: string; generation: number; tokenHash: string; expiresAt: number; now: number },
): Promise<void> {
  await insertLater(db, 'links', LINK_COLUMNS, [
    [link.ticketId, link.recipient, link.generation, link.tokenHash, link.expiresAt, link.now],
  ]);
  // A notice's thread read ahead before it (notice-thread-ahead.ts) counts it from memory.
  linkWrittenAhead(db, link);
}

const REVOKE = 'update "links" set "revoked_at" = ?, "revoked_reason" = ? where "revoked_at" is null and ';

// A revocation changes generations a notice's thread read ahead holds (notice-thread-ahead.ts): they are read again.

export function revokeLinkRow(queryable: Queryable, id: number, now: number, reason: string): Promise<number> {
  forgetNoticeThreads(queryable);
  return run(queryable, `${REVOKE}"id" = ?`, [now, reason, id]);
}

export function revokeLinksOfTicket(
  queryable: Queryable,
  ticketId: number,
  now: number,
  reason: string,
): Promise<number> {
  forgetNoticeThreads(queryable, ticketId);
  return run(queryable, `${REVOKE}"ticket_id" = ?`, [now, reason, ticketId]);
}

export function revokeLinksOfRecipient(
  queryable: Queryable,
  ticketId: number,
  recipient: string,
  now: number,
  reason: string,
): Promise<number> {
  forgetNoticeThreads(queryable, ticketId);
  return run(queryable, `${REVOKE}"ticket_id" = ? and "recipient" = ?`, [now, reason, ticketId, recipient]);
}

export async function touchLinkRow(queryable: Queryable, id: number, now: number): Promise<void> {
  await run(queryable, 'update "links" set "last_used_at" = ? where "id" = ?', [now, id]);
}
