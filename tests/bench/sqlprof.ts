// Where ingest time goes, without IMAP: `npx tsx tests/bench/sqlprof.ts [N]` ingests N bench mails straight through
// IngestService.ingestMany (batches of 50, as the poller) and prints ms per mail, the SQL statements by knex time,
// and the time spent inside better-sqlite3 itself. Run it under `node --cpu-prof --import tsx` for a profile.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { createApp } from '../../src/app.ts';
import { storageOf } from '../../src/db/storage.ts';
import { loadConfig } from '../../src/config.ts';
import { generateMails } from './corpus.ts';
import { ingestInBatches, MESA_ENV } from './phases.ts';
const N = Number(process.argv[2] ?? 2000);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-sqlprof-'));
const config = loadConfig({
  ...MESA_ENV,
  DATA_DIR: dataDir,
  ...(process.env.PARSE_WORKER ? { PARSE_WORKER: process.env.PARSE_WORKER } : {}),
});
const logger = pino({ level: 'info' }, pino.destination({ dest: '/dev/null', sync: false }));
// The parse thread (PARSE_WORKER=true) runs the built body: Node 20 cannot start the TypeScript one as a thread.
await ensureBuilt();
const app = await createApp(config, logger, { parseWorkerUrl: BUILT_PARSE_WORKER });
// SEED=100000: that many cases already in the database, as the bench's growth runs (tests/bench/seed.ts).
if (process.env.SEED) await (await import('./seed.ts')).seedCases(app.db, Number(process.env.SEED));
const stats = new Map<string, { n: number; ms: number }>();
const started = new Map<string, number>();
app.db.on('query', (q: any) => started.set(q.__knexQueryUid, performance.now()));
const record = (sql: string, ms: number) => {
  const k = sql.replace(/\(\?(, \?)*\)/g, '(?…)').slice(0, 160);
  const s = stats.get(k) ?? { n: 0, ms: 0 };
  s.n++;
  s.ms += ms;
  stats.set(k, s);
};
app.db.on('query-response', (_r: any, q: any) => {
  const t = started.get(q.__knexQueryUid);
  if (t === undefined) return;
  started.delete(q.__knexQueryUid);
  record(String(q.sql), performance.now() - t);
});
// The statements a unit of work runs on the SQLite connection itself (src/db/unit-of-work.ts): knex never sees them.
storageOf(app.db).onStatement((s) => record(s.sql, s.ms ?? 0));
import Database from 'better-sqlite3';
import { BUILT_PARSE_WORKER, ensureBuilt } from '../support/built.ts';
const probe = new Database(':memory:');
const SP = Object.getPrototypeOf(probe.prepare('select 1'));
const native = new Map<string, { n: number; ms: number }>();
for (const m of ['run', 'all', 'get']) {
  const orig = SP[m];
  SP[m] = function (...a: unknown[]) {
    const t = performance.now();
    try {
      return orig.apply(this, a);
    } finally {
      const k = String(this.source).slice(0, 70);
      const s = native.get(k) ?? { n: 0, ms: 0 };
      s.n++;
      s.ms += performance.now() - t;
      native.set(k, s);
    }
  };
}
const mails = generateMails(N, { base: Number(process.env.SEED ?? 0) });
const t0 = performance.now();
const slices = await ingestInBatches(
  app,
  mails.map((m) => m.raw),
);
const ms = performance.now() - t0;
console.log(
  `${N} mails ${ms.toFixed(0)} ms = ${(ms / N).toFixed(2)} ms/mail; first 10 batches ${(slices.slice(0, 10).reduce((a, b) => a + b, 0) / 500).toFixed(2)} ms/mail, last 10 ${(slices.slice(-10).reduce((a, b) => a + b, 0) / 500).toFixed(2)} ms/mail`,
);
const rows = [...stats].sort((a, b) => b[1].ms - a[1].ms);
let tot = 0,
  n = 0;
for (const [, s] of rows) {
  tot += s.ms;
  n += s.n;
}
console.log(`SQL: ${n} statements (${(n / N).toFixed(1)}/mail), ${tot.toFixed(0)} ms from statement to result`);
for (const [k, s] of rows.slice(0, 25))
  console.log(
    `${s.ms.toFixed(0).padStart(6)} ms ${String(s.n).padStart(6)} × ${((s.ms / s.n) * 1000).toFixed(0).padStart(5)}µs  ${k}`,
  );
let nt = 0;
for (const [, v] of native) nt += v.ms;
console.log(`inside better-sqlite3 run/all/get: ${nt.toFixed(0)} ms`);
for (const [k, v] of [...native].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12))
  console.log(
    `${v.ms.toFixed(0).padStart(6)} ms ${String(v.n).padStart(6)} × ${((v.ms / v.n) * 1000).toFixed(0).padStart(5)}µs  ${k}`,
  );
await app.close();
if (process.env.KEEP) console.log(dataDir);
else fs.rmSync(dataDir, { recursive: true, force: true });
