import type { Db } from '../knex.ts';
import { isPostgres } from '../knex.ts';

/** The `leases` table: SQL only. Every time comes from the database clock (see the migration). */

export interface LeaseRow { name: string; holder: string; acquiredAt: number; renewedAt: number; expiresAt: number }

/** Epoch milliseconds as the database sees them. clock_timestamp(), not now(): now() is frozen per transaction. */
function nowSql(db: Db): string {
  return isPostgres(db)
    ? `(extract(epoch from clock_timestamp()) * 1000)::bigint`
    : `CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)`;
}

const fromRow = (r: any): LeaseRow => ({
  name: r.name, holder: r.holder, acquiredAt: Number(r.acquired_at), renewedAt: Number(r.renewed_at), expiresAt: Number(r.expires_at),
});

const rowsOf = (res: any): any[] => (Array.isArray(res) ? res : res?.rows ?? []);

/**
 * Takes the lease when it is free, expired, or already ours, in one statement: the upsert's WHERE decides, and
 * the row lock (PostgreSQL) or the write lock (SQLite) makes two contenders see one winner. Returns the row when
 * `holder` now holds it, undefined otherwise.
 */
export async function tryAcquireLease(db: Db, name: string, holder: string, ttlMs: number): Promise<LeaseRow | undefined> {
  const now = nowSql(db);
  const res = await db.raw(
    `INSERT INTO leases (name, holder, acquired_at, renewed_at, expires_at)
     VALUES (?, ?, ${now}, ${now}, ${now} + ?)
     ON CONFLICT (name) DO UPDATE SET
       holder = excluded.holder,
       acquired_at = CASE WHEN leases.holder = excluded.holder THEN leases.acquired_at ELSE excluded.acquired_at END,
       renewed_at = excluded.renewed_at,
       expires_at = excluded.expires_at
     WHERE leases.holder = excluded.holder OR leases.expires_at < ${now}
     RETURNING name, holder, acquired_at, renewed_at, expires_at`,
    [name, holder, ttlMs],
  );
  const row = rowsOf(res)[0];
  return row && row.holder === holder ? fromRow(row) : undefined;
}

/** Extends our lease. False when another instance has taken it over (ours had expired): we must stop. */
export async function renewLease(db: Db, name: string, holder: string, ttlMs: number): Promise<boolean> {
  const now = nowSql(db);
  const n = await db('leases')
    .where({ name, holder })
    .update({ renewed_at: db.raw(now), expires_at: db.raw(`${now} + ?`, [ttlMs]) });
  return Number(n) === 1;
}

export async function releaseLease(db: Db, name: string, holder: string): Promise<void> {
  await db('leases').where({ name, holder }).del();
}

export async function listLeases(db: Db): Promise<LeaseRow[]> {
  return (await db('leases').orderBy('name')).map(fromRow);
}

export async function findLease(db: Db, name: string): Promise<LeaseRow | undefined> {
  const r = await db('leases').where({ name }).first();
  return r ? fromRow(r) : undefined;
}
