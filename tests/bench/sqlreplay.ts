// What Mesa's SQL costs by itself: `npx tsx tests/bench/sqlreplay.ts [N]` ingests N bench mails through
// IngestService.ingestMany (batches of 50, as the poller), records every statement better-sqlite3 ran (BEGIN,
// savepoints and COMMIT included) with its bindings, then replays them in the same order on a fresh, migrated database
// with plain prepared statements: no knex, no Mesa, no parsing. The difference between the two figures is what
// everything but SQLite costs (docs/performance.md). It also lists the statements that took longest in the replay;
// `REPLAY_PRAGMAS="cache_size=-65536;wal_autocheckpoint=0"` runs the replay with extra pragmas, to try one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { generateMails } from './corpus.ts';
import { ingestInBatches, MESA_ENV } from './phases.ts';
import { BUILT_PARSE_WORKER, ensureBuilt } from '../support/built.ts';

const N = Number(process.argv[2] ?? 2000);
const logger = pino({ level: 'silent' });
const freshApp = async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-sqlreplay-'));
  // The parse thread runs the built body: Node 20 cannot start the TypeScript one as a thread.
  await ensureBuilt();
  return {
    dataDir,
    app: await createApp(loadConfig({ ...MESA_ENV, DATA_DIR: dataDir }), logger, {
      parseWorkerUrl: BUILT_PARSE_WORKER,
    }),
  };
};

// Every run/all/get of every better-sqlite3 statement, while recording.
const Statement = Object.getPrototypeOf(new Database(':memory:').prepare('select 1'));
const log: Array<[method: 'run' | 'all' | 'get', sql: string, args: unknown[]]> = [];
let recording = false;
for (const method of ['run', 'all', 'get'] as const) {
  const original = Statement[method];
  Statement[method] = function (this: { source: string }, ...args: unknown[]) {
    if (recording) log.push([method, this.source, args]);
    return original.apply(this, args);
  };
}

const recorded = await freshApp();
const target = await freshApp();
await target.app.close();
const mails = generateMails(N);
recording = true;
const t0 = performance.now();
await ingestInBatches(
  recorded.app,
  mails.map((m) => m.raw),
);
const ingestMs = performance.now() - t0;
recording = false;
await recorded.app.close();

const db = new Database(path.join(target.dataDir, 'mesa.sqlite'));
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('foreign_keys = ON');
for (const p of (process.env.REPLAY_PRAGMAS ?? '').split(';').filter(Boolean)) db.pragma(p);
const spent = new Map<string, { ms: number; n: number }>();
const prepared = new Map<string, any>();
const t1 = performance.now();
for (const [method, sql, args] of log) {
  let stmt = prepared.get(sql);
  if (!stmt) prepared.set(sql, (stmt = db.prepare(sql)));
  const a = performance.now();
  stmt[method](...args);
  const e = spent.get(sql) ?? { ms: 0, n: 0 };
  e.ms += performance.now() - a;
  e.n++;
  spent.set(sql, e);
}
const replayMs = performance.now() - t1;
db.close();
for (const [sql, e] of [...spent].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12)) {
  console.log(
    `${e.ms.toFixed(0).padStart(6)} ms ${String(e.n).padStart(6)} × ${((1000 * e.ms) / e.n).toFixed(1).padStart(7)} µs  ${sql.slice(0, 100)}`,
  );
}
console.log(
  `ingest ${(ingestMs / N).toFixed(2)} ms/mail; ${log.length} statements (${(log.length / N).toFixed(1)}/mail) replayed on plain better-sqlite3 in ${(replayMs / N).toFixed(3)} ms/mail`,
);
for (const d of [recorded.dataDir, target.dataDir]) fs.rmSync(d, { recursive: true, force: true });
