import knexFactory from 'knex';
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
