import knexFactory from 'knex';
import { TEST_PG_URL } from './app.ts';

/**
 * Every PostgreSQL test makes its own database (mesa_t…, mesa_lease…, …). Drop the ones earlier runs left, so that
 * CI on a reused machine does not accumulate them. A database still in use (another run) refuses to be dropped and
 * is left alone.
 */
export default async function setup(): Promise<void> {
  const admin = knexFactory({
    client: 'pg',
    connection: TEST_PG_URL,
    pool: { min: 0, max: 1 },
    acquireConnectionTimeout: 3000,
  });
  try {
    const rows = await admin('pg_database').select('datname').where('datname', 'like', 'mesa\\_%');
    for (const { datname } of rows as Array<{ datname: string }>) {
      if (!/^mesa_[a-z0-9_]+$/.test(datname)) continue;
      await admin.raw(`DROP DATABASE IF EXISTS ${datname}`).catch(() => undefined);
    }
  } catch {
    // No PostgreSQL here: the PostgreSQL project is not run either (see vitest.config.ts).
  } finally {
    await admin.destroy();
  }
}
