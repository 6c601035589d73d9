import type { Knex } from '../knex.ts';
import { knexOf, type Queryable } from '../sql.ts';
import { toOutboxRow, type OutboxRow, type OutboxState } from './outbox-row.ts';

// The outbox repository as outbound sees it (`import * as repo`): the rows' states here, the claim, the loop
// budget and the writing of new rows (which may wait for the ingest batch's flush) in their own files.
export * from './outbox-budget.ts';
export * from './outbox-loop-budget.ts';
export type { AheadSpans } from './outbox-ahead.ts';
export * from './outbox-rows.ts';
export * from './outbox-row.ts';
export * from './outbox-claim.ts';

/** The transactional outbox. SQL only; the rules live in src/outbound/. */

const n = (v: unknown) => (v === null || v === undefined ? undefined : Number(v));

/** Claimed rows a dispatcher never began to send, handed back as they were before the claim. */
export async function releaseClaims(db: Knex, ids: readonly number[], owner: string): Promise<void> {
  if (!ids.length) return;
  await db('outbox')
    .whereIn('id', ids)
    .where({ claimed_by: owner, state: 'sending' })
    .update({ state: 'pending', lease_until: null, claimed_by: null, attempts: db.raw('attempts - 1') });
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
