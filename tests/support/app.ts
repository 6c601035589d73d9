import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApp, type App } from '../../src/app.ts';
import { loadConfig, type Config, type Env } from '../../src/config.ts';
import { silentLogger } from '../../src/logger.ts';
import { BUILT_COMPOSE_WORKER, BUILT_PARSE_WORKER } from './built.ts';

/**
 * A fresh Mesa for one test: its own DATA_DIR and SQLite file, or its own schema on PostgreSQL when
 * MESA_TEST_DATABASE=postgres (CI runs the suite both ways; see .ci/run).
 */
export const TEST_PG_URL = process.env.MESA_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const onPostgres = process.env.MESA_TEST_DATABASE === 'postgres';

export function testEnv(dataDir: string, extra: Env = {}): Env {
  return {
    DATA_DIR: dataDir,
    SUPPORT_ADDRESS: 'soporte@mesa.test',
    SUPPORT_NAME: 'Soporte Mesa',
    FALLBACK_ADDRESS: 'acceso@mesa.test',
    CONSULTANTS: 'ana@mesa.test,beto@mesa.test',
    SECRET_KEY: 'test-secret-key-0123456789abcdef0123456789',
    PUBLIC_URL: 'http://127.0.0.1:8080',
    LOG_LEVEL: 'silent',
    ...extra,
  };
}

let schemaCounter = 0;

export async function testConfig(extra: Env = {}): Promise<Config> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-test-'));
  // In-process apps parse on the test's own thread (a parse thread takes a moment to start, per app);
  // tests/integration/inbound/parse-thread.test.ts and every `mesa start` child process run the parse thread.
  const env = testEnv(dataDir, { PARSE_WORKER: 'false', ...extra });
  if (onPostgres && !extra.DATABASE_URL)
    env.DATABASE_URL = await freshPgDatabase(`mesa_t${process.pid}_${++schemaCounter}_${Date.now() % 100000}`);
  return loadConfig(env);
}

/** A new, empty PostgreSQL database on `server` (tests/support/global-setup.ts drops the ones earlier test runs
 * left; `npm run bench` drops its own). */
export async function freshPgDatabase(name: string, server = TEST_PG_URL): Promise<string> {
  const { default: knex } = await import('knex');
  const admin = knex({ client: 'pg', connection: server });
  try {
    await admin.raw(`DROP DATABASE IF EXISTS ${name}`);
    await admin.raw(`CREATE DATABASE ${name}`);
  } finally {
    await admin.destroy();
  }
  const url = new URL(server);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function testApp(extra: Env = {}, opts: { clock?: () => number } = {}): Promise<App> {
  // The parse and compose threads run the built bodies (Node 20 cannot start the TypeScript ones as threads).
  return createApp(await testConfig(extra), silentLogger, {
    ...opts,
    parseWorkerUrl: BUILT_PARSE_WORKER,
    composeWorkerUrl: BUILT_COMPOSE_WORKER,
  });
}
