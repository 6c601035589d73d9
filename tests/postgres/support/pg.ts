import knexFactory, { type Knex } from 'knex';
import { freshPgDatabase, TEST_PG_URL } from '../../support/app.ts';

/**
 * The scale tests need the local PostgreSQL server (MESA_TEST_PG_URL): several instances on one SQLite file is
 * not a supported set-up. Each test makes its own database.
 */
export async function pgReachable(): Promise<boolean> {
  const admin = knexFactory({
    client: 'pg',
    connection: TEST_PG_URL,
    pool: { min: 0, max: 1 },
    acquireConnectionTimeout: 3000,
  });
  try {
    await admin.raw('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await admin.destroy();
  }
}

let counter = 0;

export async function freshDatabase(prefix: string): Promise<string> {
  return freshPgDatabase(`${prefix}_${process.pid}_${++counter}_${Date.now() % 100000}`);
}

/** Whether another transaction can lock case `id` at once (NOWAIT). */
export async function lockable(db: Knex, id: number): Promise<boolean> {
  try {
    await db.transaction((t) => t.raw('select "id" from "tickets" where "id" = ? for update nowait', [id]));
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === '55P03') return false;
    throw err;
  }
}

/** Whether a statement of this database is waiting for a lock now (another transaction holds it). */
export const waitsOnALock = async (db: Knex) =>
  Number(
    (
      await db.raw(
        "select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
      )
    ).rows[0].n,
  ) > 0;

/** How many customer messages each case has, in the order of the cases' ids. */
export async function customerMessagesPerCase(db: Knex): Promise<number[]> {
  const rows = await db('messages')
    .where({ role: 'customer' })
    .select('ticket_id')
    .count({ n: '*' })
    .groupBy('ticket_id')
    .orderBy('ticket_id');
  return rows.map((r) => Number(r.n));
}
