import { holderIsGone } from '../holders.ts';
import { isPostgres, type Knex } from '../knex.ts';
import { knexOf, type Queryable } from '../sql.ts';
import type { NewOutbox } from './outbox-rows.ts';
import { bounceHoldReason } from './outbox-budget.ts';
import { insertEvent } from './tickets.ts';

// The outbox repository as outbound sees it (`import * as repo`): the claim and the rows' states here, the loop
// budget and the writing of new rows (which may wait for the ingest batch's flush) in their own files.
export * from './outbox-budget.ts';
export * from './outbox-loop-budget.ts';
export type { AheadSpans } from './outbox-ahead.ts';
export * from './outbox-rows.ts';

/** The transactional outbox. SQL only; the rules live in src/outbound/. */

export type OutboxState = 'pending' | 'sending' | 'sent' | 'dead' | 'held';

/** A row of the outbox as the dispatcher and `mesa outbox` read it: what enqueue wrote (NewOutbox), and its life
 * since. */
export interface OutboxRow extends Pick<
  NewOutbox,
  'idempotencyKey' | 'ticketId' | 'kind' | 'recipient' | 'automatic' | 'messageId' | 'mail' | 'heldReason'
> {
  id: number;
  subject: string;
  state: OutboxState;
  attempts: number;
  nextAttemptAt: number;
  leaseUntil?: number;
  claimedBy?: string;
  lastError?: string;
  createdAt: number;
  sentAt?: number;
}

const n = (v: unknown) => (v === null || v === undefined ? undefined : Number(v));

export function toOutboxRow(r: any): OutboxRow {
  return {
    id: Number(r.id),
    idempotencyKey: r.idempotency_key,
    ticketId: n(r.ticket_id),
    kind: r.kind,
    recipient: r.recipient,
    automatic: Boolean(r.automatic),
    messageId: r.message_id,
    subject: r.subject,
    mail: JSON.parse(r.mail_json),
    state: r.state,
    attempts: Number(r.attempts),
    nextAttemptAt: Number(r.next_attempt_at),
    leaseUntil: n(r.lease_until),
    claimedBy: r.claimed_by ?? undefined,
    lastError: r.last_error ?? undefined,
    heldReason: r.held_reason ?? undefined,
    createdAt: Number(r.created_at),
    sentAt: n(r.sent_at),
  };
}

export interface HeldAtSend {
  id: number;
  ticketId?: number;
  recipient: string;
  kind: string;
  reason: string;
}

/**
 * Claims up to `limit` due rows for one dispatcher: pending ones whose time has come, and `sending` ones whose
 * dispatcher died between claiming and recording them: once their claim ran out, or at once when that dispatcher's
 * process on this machine has ended (holderIsGone: a SIGKILLed `mesa start` restarted by systemd sends them again in
 * seconds, not after the claim's five minutes). On PostgreSQL the rows are locked with FOR UPDATE SKIP LOCKED so that
 * several instances never claim the same row; SQLite has one writer at a time.
 *
 * The bounce stop is asked again here, in the claim's transaction: automatic mail enqueued before a hard bounce was
 * recorded (earlier in the same batch, or by another instance) is held with the stop's reason, as enqueue() would
 * have held it, instead of going to an address that is known to fail. A person's words (not automatic) still go, and
 * so does mail to `neverStopped` (the desk's addresses, which a bounce never stops).
 */
export async function claimDue(
  db: Knex,
  p: { now: number; limit: number; owner: string; leaseMs: number; neverStopped?: readonly string[] },
): Promise<{ due: OutboxRow[]; held: HeldAtSend[] }> {
  if (p.limit <= 0) return { due: [], held: [] };
  const gone = await goneClaimers(db, p.owner);
  const due = (b: Knex.QueryBuilder) => {
    b.where((w) => w.where({ state: 'pending' }).andWhere('next_attempt_at', '<=', p.now)).orWhere((w) =>
      w.where({ state: 'sending' }).andWhere('lease_until', '<', p.now),
    );
    if (gone.length) b.orWhere((w) => w.where({ state: 'sending' }).whereIn('claimed_by', gone));
  };
  // Most polls find nothing due. On SQLite a transaction takes the file's write lock at BEGIN (src/db/knex.ts), and
  // `mesa start` polls every OUTBOX_POLL_MS: ask with a plain read first, so an idle poll never waits for, nor holds
  // up, the other processes writing the file (an MTA's parallel `mesa ingest -`). PostgreSQL locks rows, not the
  // database: there the claim's own SELECT … SKIP LOCKED asks, one round trip fewer.
  if (!isPostgres(db) && !(await db('outbox').first('id').where(due))) return { due: [], held: [] };
  return db.transaction(async (trx) => {
    let q = trx('outbox').select('id').where(due).orderBy('id').limit(p.limit);
    if (isPostgres(trx)) q = q.forUpdate().skipLocked();
    const ids = (await q).map((r: any) => Number(r.id));
    if (!ids.length) return { due: [], held: [] };
    const stopped = await trx('outbox as o')
      .join('mail_suppressions as s', 's.address', 'o.recipient')
      .whereIn('o.id', ids)
      .andWhere('o.automatic', true)
      .andWhere('s.until', '>', p.now)
      .whereNotIn('o.recipient', [...(p.neverStopped ?? [])])
      .select('o.id', 'o.ticket_id', 'o.recipient', 'o.kind', 's.reason');
    const held: HeldAtSend[] = stopped.map((r: any) => ({
      id: Number(r.id),
      ticketId: n(r.ticket_id),
      recipient: r.recipient,
      kind: r.kind,
      reason: bounceHoldReason(r.reason),
    }));
    for (const h of held) {
      await trx('outbox')
        .where({ id: h.id })
        .update({ state: 'held', held_reason: h.reason, lease_until: null, claimed_by: null });
      if (h.ticketId !== undefined)
        await insertEvent(trx, {
          ticketId: h.ticketId,
          type: 'mail_held',
          actor: 'mesa',
          to: h.recipient,
          reason: h.reason,
          at: p.now,
          data: { kind: h.kind },
        });
    }
    const heldIds = new Set(held.map((h) => h.id));
    const send = ids.filter((id) => !heldIds.has(id));
    if (!send.length) return { due: [], held };
    await trx('outbox')
      .whereIn('id', send)
      .update({
        state: 'sending',
        lease_until: p.now + p.leaseMs,
        claimed_by: p.owner,
        attempts: trx.raw('attempts + 1'),
      });
    return { due: (await trx('outbox').whereIn('id', send).orderBy('id')).map(toOutboxRow), held };
  });
}

/** The other dispatchers with rows in `sending` whose process on this machine has ended. A few rows at most (one per
 * sending slot of each live dispatcher), found through the (state, next_attempt_at) index. */
async function goneClaimers(db: Knex, owner: string): Promise<string[]> {
  const rows = await db('outbox').distinct('claimed_by').where({ state: 'sending' }).whereNot({ claimed_by: owner });
  return rows.map((r: { claimed_by: string | null }) => r.claimed_by ?? '').filter((c) => c && holderIsGone(c));
}

/** Claimed rows a dispatcher never began to send, handed back as they were before the claim. */
export async function releaseClaims(db: Knex, ids: readonly number[], owner: string): Promise<void> {
  if (!ids.length) return;
  await db('outbox')
    .whereIn('id', ids)
    .where({ claimed_by: owner, state: 'sending' })
    .update({ state: 'pending', lease_until: null, claimed_by: null, attempts: db.raw('attempts - 1') });
}

/** Only the claimant may settle a row: a dispatcher that lost its lease does not overwrite the new owner. */
export async function markSent(queryable: Queryable, id: number, owner: string, now: number): Promise<void> {
  const db = knexOf(queryable);
  await db('outbox')
    .where({ id, claimed_by: owner, state: 'sending' })
    .update({ state: 'sent', sent_at: now, lease_until: null, last_error: null });
}

export async function markRetry(
  queryable: Queryable,
  id: number,
  owner: string,
  nextAt: number,
  error: string,
): Promise<void> {
  const db = knexOf(queryable);
  await db('outbox')
    .where({ id, claimed_by: owner, state: 'sending' })
    .update({ state: 'pending', next_attempt_at: nextAt, lease_until: null, last_error: error.slice(0, 1000) });
}

export async function markDead(queryable: Queryable, id: number, owner: string, error: string): Promise<void> {
  const db = knexOf(queryable);
  await db('outbox')
    .where({ id, claimed_by: owner, state: 'sending' })
    .update({ state: 'dead', lease_until: null, last_error: error.slice(0, 1000) });
}

/** `mesa outbox --retry`: dead rows go back to pending, attempts reset. */
export async function retryDead(queryable: Queryable, now: number): Promise<number> {
  const db = knexOf(queryable);
  return db('outbox')
    .where({ state: 'dead' })
    .update({ state: 'pending', attempts: 0, next_attempt_at: now, last_error: null });
}

export async function countByState(queryable: Queryable): Promise<Record<string, number>> {
  const db = knexOf(queryable);
  const rows = await db('outbox').select('state').count({ c: '*' }).groupBy('state');
  return Object.fromEntries(rows.map((r: any) => [r.state, Number(r.c)]));
}

export async function listOutbox(
  queryable: Queryable,
  opts: { states?: OutboxState[]; limit?: number } = {},
): Promise<OutboxRow[]> {
  const db = knexOf(queryable);
  let q = db('outbox')
    .orderBy('id', 'desc')
    .limit(opts.limit ?? 100);
  if (opts.states?.length) q = q.whereIn('state', opts.states);
  return (await q).map(toOutboxRow);
}

export async function nextDueAt(queryable: Queryable): Promise<number | undefined> {
  const db = knexOf(queryable);
  const r = await db('outbox').where({ state: 'pending' }).min({ t: 'next_attempt_at' }).first();
  return n(r?.t);
}

/**
 * Deletes up to `limit` mails sent before `before`, oldest first; returns how many. Their Message-IDs stay in
 * `thread_ids` (replies still find their case); what goes is the mail's content. Pending, held and dead rows are
 * kept whatever their age: they have not been delivered.
 */
export async function deleteSentBefore(queryable: Queryable, before: number, limit: number): Promise<number> {
  const db = knexOf(queryable);
  const ids = (
    await db('outbox')
      .select('id')
      .where({ state: 'sent' })
      .andWhere('sent_at', '<', before)
      .orderBy('sent_at')
      .limit(limit)
  ).map((r: any) => Number(r.id));
  if (!ids.length) return 0;
  return db('outbox').whereIn('id', ids).del();
}
