import { spawnSync } from 'node:child_process';
import { defineConfig } from 'vitest/config';

/**
 * The test configuration (`npm test`). Integration tests start real servers (Dovecot, an SMTP sink, Chromium), so
 * files run in forks with generous timeouts.
 *
 * One `npm test` runs the suite twice: on SQLite files ("sqlite") and on the local PostgreSQL server
 * ("postgres", MESA_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/test) when it answers. Pure tests
 * (domain, filters, templates, config) and the scale tests (PostgreSQL only by nature) run once.
 * MESA_TEST_DATABASES=sqlite (or postgres) runs one of the two.
 */
const PG_URL = process.env.MESA_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

function pgAnswers(): boolean {
  const probe = `const k=require('knex')({client:'pg',connection:process.argv[1],acquireConnectionTimeout:3000});` +
    `k.raw('select 1').then(()=>process.exit(0),()=>process.exit(1)).finally(()=>k.destroy())`;
  return spawnSync(process.execPath, ['-e', probe, PG_URL], { timeout: 10_000 }).status === 0;
}

const wanted = (process.env.MESA_TEST_DATABASES ?? 'sqlite,postgres').split(',').map((s) => s.trim());
const runPg = wanted.includes('postgres') && pgAnswers();
if (wanted.includes('postgres') && !runPg) console.warn(`[mesa] PostgreSQL no responde en ${PG_URL}: la batería corre solo sobre SQLite`);

const DB_AGNOSTIC = [
  'tests/tickets/**', 'tests/config/**', 'tests/errors.test.ts', 'tests/policy/**', 'tests/inbound/filters/**',
  'tests/inbound/quotes.test.ts', 'tests/inbound/parse.test.ts', 'tests/outbound/templates.test.ts',
  'tests/web/healthz-readiness.test.ts', 'tests/corpus/**', 'tests/scale/**', 'tests/inbound/content-hash.test.ts',
  'tests/cli/demo.test.ts', // the demo is the embedded SQLite default by definition
  'tests/cli/sqlite-statistics.test.ts', // SQLite's own planner statistics
  'tests/db/sqlite-statements.test.ts', // SQLite's own journal and planner
  'tests/db/sqlite-write-lock.test.ts', // SQLite's one write lock, shared by processes
  'tests/outbound/ids-derived.test.ts', 'tests/outbound/thread-index.test.ts', 'tests/bench/compare.test.ts',
  'tests/bench/runner.test.ts', // how the bench runs its processes, not a database's behaviour
];

export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    maxWorkers: 2,
    minWorkers: 1,
    reporters: ['default', './tests/support/summary-reporter.ts'],
    // dist/ built (if stale) before any test spawns `mesa`; then the PostgreSQL databases of earlier runs dropped.
    globalSetup: ['tests/support/build-setup.ts', ...(runPg ? ['tests/support/global-setup.ts'] : [])],
    projects: [
      ...(wanted.includes('sqlite') || !runPg
        ? [{ extends: true as const, test: { name: 'sqlite', include: ['tests/**/*.test.ts'], env: { MESA_TEST_DATABASE: 'sqlite' } } }]
        : []),
      ...(runPg
        ? [{ extends: true as const, test: { name: 'postgres', include: ['tests/**/*.test.ts'], exclude: DB_AGNOSTIC, env: { MESA_TEST_DATABASE: 'postgres', MESA_TEST_PG_URL: PG_URL } } }]
        : []),
    ],
  },
});
