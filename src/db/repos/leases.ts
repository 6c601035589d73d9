import { knexOf, type Queryable } from '../sql.ts';

/**
 * The `leases` table: which instance holds which mailbox, and when it last proved alive. On PostgreSQL the lock itself
 * is an advisory lock (src/db/leases.ts) and the row is only its visible record; on SQLite the row is the lock
 * (takeLease). SQL only.
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

/**
 * SQLite: `holder` takes the row when no one holds it, when its holder let it expire or when `gone` says that holder
 * has ended. A compare-and-set, one statement per step and no transaction held across them: the write only lands if
 * the row is still the one judged (or still absent), so of two processes racing for it one wins. True when `holder`
 * holds the row now.
 */
export async function takeLease(
  queryable: Queryable,
  name: string,
  holder: string,
  now: number,
  ttlMs: number,
  gone: (holder: string) => boolean,
): Promise<boolean> {
  const db = knexOf(queryable);
  const row = await db('leases').where({ name }).first();
  if (row && row.holder !== holder && Number(row.expires_at) > now && !gone(String(row.holder))) return false;
  const fresh = { holder, acquired_at: now, renewed_at: now, expires_at: now + ttlMs };
  if (row) await db('leases').where({ name, holder: row.holder, renewed_at: row.renewed_at }).update(fresh);
  else
    await db('leases')
      .insert({ name, ...fresh })
      .onConflict('name')
      .ignore();
  return (await db('leases').where({ name }).first())?.holder === holder;
}

/** Heartbeat: the holder is alive. Only its own row is touched; 0 means another holder has taken the row. */
export async function touchLease(
  queryable: Queryable,
  name: string,
  holder: string,
  now: number,
  ttlMs: number,
): Promise<number> {
  const db = knexOf(queryable);
  return db('leases')
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
