import { spawnSync } from 'node:child_process';
import { defineConfig } from 'vitest/config';

/**
 * The test configuration. Integration tests start real servers (Dovecot, an SMTP sink, Chromium), so files run in
 * forks with generous timeouts.
 *
 * A test's folder says how it runs; below each folder the layout mirrors src/:
 * - tests/unit/ (no database): once ("unit"). So do the bench tool's pure tests (tests/bench/*.test.ts), the
 *   reporter's (tests/support/) and tests/corpus/, which reads the public corpus and no database.
 * - tests/integration/ (a database and/or real servers): on SQLite files ("sqlite") and on the local PostgreSQL
 *   ("postgres", MESA_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/test) when it answers.
 * - tests/sqlite/ and tests/postgres/ (about that database by nature: the embedded demo, SQLite's planner statistics;
 *   several instances on one PostgreSQL): once, when that database is run ("sqlite-only", "postgres-only").
 * - tests/perf/ (what a change of implementation may change without a user noticing: statement counts and shapes,
 *   PRAGMA values): `npm run test:perf` ("perf-sqlite", "perf-postgres"; tests/perf/sqlite/ on SQLite only), never
 *   in `npm test`, which runs every project but those.
 * tests/support/ and tests/fixtures/ hold helpers and sample mail; tests/bench/ is the `npm run bench` tool.
 * MESA_TEST_DATABASES=sqlite (or postgres) runs the database projects of one of the two.
 */
const PG_URL = process.env.MESA_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

function pgAnswers(): boolean {
  const probe =
    `const k=require('knex')({client:'pg',connection:process.argv[1],acquireConnectionTimeout:3000});` +
    `k.raw('select 1').then(()=>process.exit(0),()=>process.exit(1)).finally(()=>k.destroy())`;
  return spawnSync(process.execPath, ['-e', probe, PG_URL], { timeout: 10_000 }).status === 0;
}

const wanted = (process.env.MESA_TEST_DATABASES ?? 'sqlite,postgres').split(',').map((s) => s.trim());
const runPg = wanted.includes('postgres') && pgAnswers();
if (wanted.includes('postgres') && !runPg)
  console.warn(`[mesa] PostgreSQL no responde en ${PG_URL}: la batería corre solo sobre SQLite`);
const runSqlite = wanted.includes('sqlite') || !runPg;

const UNIT = [
  'tests/unit/**/*.test.ts',
  'tests/bench/**/*.test.ts',
  'tests/support/**/*.test.ts',
  'tests/corpus/**/*.test.ts',
];
const SQLITE = { MESA_TEST_DATABASE: 'sqlite' };
const POSTGRES = { MESA_TEST_DATABASE: 'postgres', MESA_TEST_PG_URL: PG_URL };
const project = (name: string, include: string[], env: Record<string, string>, exclude: string[] = []) => ({
  extends: true as const,
  test: { name, include, exclude, env },
});

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
      project('unit', UNIT, SQLITE),
      ...(runSqlite
        ? [
            project('sqlite', ['tests/integration/**/*.test.ts'], SQLITE),
            project('sqlite-only', ['tests/sqlite/**/*.test.ts'], SQLITE),
            project('perf-sqlite', ['tests/perf/**/*.test.ts'], SQLITE),
          ]
        : []),
      ...(runPg
        ? [
            project('postgres', ['tests/integration/**/*.test.ts'], POSTGRES),
            // As before the folders: these reach PostgreSQL themselves (tests/postgres/support/pg.ts) and use testApp's
            // SQLite for what is not about it.
            project('postgres-only', ['tests/postgres/**/*.test.ts'], SQLITE),
            project('perf-postgres', ['tests/perf/**/*.test.ts'], POSTGRES, ['tests/perf/sqlite/**']),
          ]
        : []),
    ],
  },
});
