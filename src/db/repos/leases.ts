import { knexOf, type Queryable } from '../sql.ts';

/**
 * The `leases` table: the visible record of which instance holds which mailbox (for `/healthz`, logs and the
 * operator). The lock itself is a PostgreSQL advisory lock (src/db/leases.ts); this row only says who took it and
 * when it last proved alive. SQL only.
 */

export interface LeaseRow {
  name: string;
  holder: string;
  acquiredAt: number;
  renewedAt: number;
  expiresAt: number;
}

const fromRow = (r: any): LeaseRow => ({
  name: r.name,
  holder: r.holder,
  acquiredAt: Number(r.acquired_at),
  renewedAt: Number(r.renewed_at),
  expiresAt: Number(r.expires_at),
});

/** Written by the new holder right after it took the lock: any row left by a dead holder is replaced. */
export async function recordLeaseHolder(
  queryable: Queryable,
  name: string,
  holder: string,
  now: number,
  ttlMs: number,
): Promise<void> {
  const db = knexOf(queryable);
  const row = { holder, acquired_at: now, renewed_at: now, expires_at: now + ttlMs };
  await db('leases')
    .insert({ name, ...row })
    .onConflict('name')
    .merge(row);
}

/** Heartbeat: the holder is alive. Only its own row is touched. */
export async function touchLease(
  queryable: Queryable,
  name: string,
  holder: string,
  now: number,
  ttlMs: number,
): Promise<void> {
  const db = knexOf(queryable);
  await db('leases')
    .where({ name, holder })
    .update({ renewed_at: now, expires_at: now + ttlMs });
}

export async function clearLeaseHolder(queryable: Queryable, name: string, holder: string): Promise<void> {
  const db = knexOf(queryable);
  await db('leases').where({ name, holder }).del();
}

export async function listLeases(queryable: Queryable): Promise<LeaseRow[]> {
  const db = knexOf(queryable);
  return (await db('leases').orderBy('name')).map(fromRow);
}

export async function findLease(queryable: Queryable, name: string): Promise<LeaseRow | undefined> {
  const db = knexOf(queryable);
  const r = await db('leases').where({ name }).first();
  return r ? fromRow(r) : undefined;
}
