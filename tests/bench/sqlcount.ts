// How many statements (on PostgreSQL: round trips) the ingest runs per mail, by shape: `npx tsx
// tests/bench/sqlcount.ts [N]` ingests N bench mails (after 500 to warm, as the bench) straight through
// IngestService.ingestMany in batches of 50, as the poller, and prints the statements per mail grouped by their SQL.
// AHEAD=1 also parses each next batch while one is written, as the poller does (ingestAsThePoller).
// With DATABASE_URL=postgres://… it runs on a fresh database of that server. Deterministic: the same corpus, the same
// counts, whatever the machine's load.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { onStatements } from '../../src/db/storage.ts';
import { BUILT_PARSE_WORKER, ensureBuilt } from '../support/built.ts';
import { freshPgDatabase } from '../support/app.ts';
import { generateMails } from './corpus.ts';
import { ingestInBatches, MESA_ENV } from './phases.ts';

const N = Number(process.argv[2] ?? 1000);
const WARM = 500;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-sqlcount-'));
const server = process.env.DATABASE_URL;
const env: Record<string, string> = { ...MESA_ENV, DATA_DIR: dataDir, LOG_LEVEL: 'silent' };
if (server) env.DATABASE_URL = await freshPgDatabase(`mesa_sqlcount_${process.pid}`, server);
await ensureBuilt();
const app = await createApp(loadConfig(env), pino({ level: 'silent' }), { parseWorkerUrl: BUILT_PARSE_WORKER });
const mails = generateMails(WARM + N).map((m) => m.raw);
await ingestInBatches(app, mails.slice(0, WARM));
const counts = new Map<string, number>();
const stop = onStatements(app.db, ({ sql }) => {
  const shape = sql
    .replace(/\(\?(, \?)*\)(, \(\?(, \?)*\))*/g, '(?…)')
    .replace(/\$\d+/g, '$')
    .slice(0, 150);
  counts.set(shape, (counts.get(shape) ?? 0) + 1);
});
// UIDs after the warm-up's, as the poller would hand them over.
if (process.env.AHEAD) await ingestAsThePoller(mails.slice(WARM));
else await ingestInBatches(app, mails.slice(WARM), WARM);
stop();
await app.close();
fs.rmSync(dataDir, { recursive: true, force: true });
let total = 0;
for (const n of counts.values()) total += n;
console.log(
  `${server ? 'PostgreSQL' : 'SQLite'}: ${N} mails, ${total} statements = ${(total / N).toFixed(2)} per mail`,
);
for (const [shape, n] of [...counts].sort((a, b) => b[1] - a[1]))
  console.log(`${(n / N).toFixed(2).padStart(7)}  ${String(n).padStart(6)}  ${shape}`);

/**
 * AHEAD=1: each batch's next one handed to the parse thread while it is written (IngestService.parseAhead), as the
 * poller does (mailbox-round.ts): a batch then finds most of its mails parsed, and its reads ahead cover them at once.
 */
async function ingestAsThePoller(rest: Buffer[]): Promise<void> {
  const source = (uid: number) => ({ kind: 'imap', account: 'support', folder: 'INBOX', uidvalidity: 1, uid }) as const;
  app.ingest.parseAhead(rest.slice(0, 50));
  for (let i = 0; i < rest.length; i += 50) {
    const batch = app.ingest.ingestMany(
      rest.slice(i, i + 50).map((raw, j) => ({ raw, source: source(WARM + i + j + 1) })),
    );
    app.ingest.parseAhead(rest.slice(i + 50, i + 100));
    await batch;
  }
}
