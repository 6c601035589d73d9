import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { PlannerStatistics } from '../../../src/db/statistics.ts';
import { silentLogger } from '../../../src/logger.ts';
import { onPostgres, testApp } from '../../support/app.ts';

/**
 * PostgreSQL plans the ingest's reads from the tables' statistics; on a database that grows from empty, Mesa writes
 * them itself (ANALYZE) each time what it wrote reaches what the tables held (src/db/statistics.ts).
 */
let app: App;
afterEach(async () => app?.close());

const TABLES = ['ingest_ledger', 'thread_ids', 'tickets', 'participants', 'messages', 'links', 'outbox'];

/** How many times each ingest table was analyzed by hand (ANALYZE), by the server's own counters. */
async function analyzed(a: App): Promise<Record<string, number>> {
  // The counters reach pg_stat_user_tables when the backend reports them: ask for the current snapshot.
  await a.db.raw('select pg_stat_clear_snapshot()');
  const r = await a.db.raw(
    `select relname, analyze_count from pg_stat_user_tables where relname in (${TABLES.map(() => '?').join(', ')})`,
    TABLES,
  );
  return Object.fromEntries(
    r.rows.map((x: { relname: string; analyze_count: string }) => [x.relname, Number(x.analyze_count)]),
  );
}

describe('planner statistics', () => {
  it('on PostgreSQL analyzes the ingest tables at 500 mails written, then when what was written doubles them; on SQLite asks nothing', async () => {
    app = await testApp();
    const stats = new PlannerStatistics(app.db, silentLogger);
    if (!onPostgres) {
      // SQLite plans without statistics of this kind: a bulk load asks nothing of it.
      await expect(stats.wrote(10_000)).resolves.toBeUndefined();
      return;
    }
    const before = await analyzed(app);
    await stats.wrote(499); // an MTA's `mesa ingest -` writes one: nothing is asked, nothing analyzed
    expect(await analyzed(app)).toEqual(before);
    await stats.wrote(1);
    await expect.poll(async () => Object.values(await analyzed(app))).toEqual(TABLES.map(() => 1));
    // The ledger is empty in this test: the next ANALYZE is 500 mails away again, not at the next batch.
    await stats.wrote(499);
    expect(Object.values(await analyzed(app))).toEqual(TABLES.map(() => 1));
    await stats.wrote(1);
    await expect.poll(async () => Object.values(await analyzed(app))).toEqual(TABLES.map(() => 2));
  });
});
