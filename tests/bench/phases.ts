import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { createApp } from '../../src/app.ts';
import { loadConfig, type MailboxConfig } from '../../src/config.ts';
import type { MailSource } from '../../src/inbound/mail.ts';
import { contentOf } from '../../src/outbound/outbox.ts';
import { seedCases } from './seed.ts';

/**
 * Under BENCH_RUNTIME=tsx (profiles) the parse and compose threads run dist/'s bodies, built by bench.ts before the
 * phases: Node 20 cannot start the TypeScript ones as threads. Built (as measured), the child runs its own build's.
 */
const underTsx = import.meta.url.endsWith('.ts');
const threadBodies = {
  parseWorkerUrl: underTsx ? new URL('../../dist/src/inbound/parse-worker.js', import.meta.url) : undefined,
  composeWorkerUrl: underTsx ? new URL('../../dist/src/outbound/compose-worker.js', import.meta.url) : undefined,
};

/**
 * What runs inside one child process per measurement, so that each peak RSS (process.resourceUsage().maxRSS)
 * belongs to that measurement alone and one phase's garbage does not slow the next.
 */

/** The configuration every measured Mesa runs with (plus its DATA_DIR, database and mailbox). */
export const MESA_ENV: Record<string, string> = {
  SUPPORT_ADDRESS: 'soporte@mesa.test',
  SUPPORT_NAME: 'Soporte Mesa',
  CONSULTANTS: 'ana@mesa.test',
  SECRET_KEY: 'bench-secret-key-0123456789abcdef0123456789',
  PUBLIC_URL: 'http://127.0.0.1:8080',
  LOG_LEVEL: 'info',
};

/** Mail straight into `app.ingest` without IMAP, in UID batches of 50 as the poller hands them over (tests/bench/
 * sqlprof.ts, sqlreplay.ts), their UIDs numbered after `uidsAfter`. Returns each batch's milliseconds. */
export async function ingestInBatches(
  app: { ingest: { ingestMany(items: Array<{ raw: Buffer; source: MailSource }>): Promise<unknown> } },
  raws: readonly Buffer[],
  uidsAfter = 0,
): Promise<number[]> {
  const batches: number[] = [];
  for (let i = 0; i < raws.length; i += 50) {
    const t0 = performance.now();
    await app.ingest.ingestMany(
      raws.slice(i, i + 50).map((raw, j) => ({
        raw,
        source: { kind: 'imap', account: 'support', folder: 'INBOX', uidvalidity: 1, uid: uidsAfter + i + j + 1 },
      })),
    );
    batches.push(performance.now() - t0);
  }
  return batches;
}

export interface ImapTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  folder: string;
}

/**
 * The warm-up before a timed phase: `count` mails of the same kind, in their own folder, read by the same code in the
 * same process (and into the same database) before the timed folder. A fresh process runs its first few hundred mails
 * on cold code (V8 compiles the hot paths as it goes, the connections and pools open), and both sides of a ratio get
 * the same warm-up so that each is timed at its steady pace.
 */
export interface Warm {
  folder: string;
  count: number;
}

/** `runtime`: what ran the measured process (tests/bench/runner.ts): the esbuild bundle `mesa start` runs, or tsx. */
export interface PhaseResult {
  ms: number;
  count: number;
  rate: number;
  peakRssMb: number;
  runtime?: 'bundle' | 'tsx';
  extra?: Record<string, unknown>;
}

export const peakRssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

/**
 * How many cores a phase kept busy: this process (every thread: main, parse thread, libuv pool, GC) and the whole
 * machine (Dovecot serving the fetch included), from /proc/stat. On a 2-core machine a phase at ~2.0 machine cores
 * is bound by the CPU as a whole, and only less work per mail, not more overlap, makes it faster.
 *
 * `main`: where the event loop's thread spent the phase's wall time (/proc/self/task/<pid>/schedstat): running on a
 * core, runnable but waiting for one (the other threads and Dovecot had both), or asleep (waiting for mail, for the
 * parse thread, or blocked in a system call such as an fsync). A thread that runs 100 % of the time is the limit
 * itself; one that waits for a core is slowed by the rest of the machine.
 */
export function cpuMeter(): () => {
  processCores: number;
  machineCores: number;
  threadMs: Record<string, number>;
  main: { runningMs: number; waitingForCoreMs: number; asleepMs: number };
} {
  // Busy milliseconds of all cores: /proc/stat counts in USER_HZ, 100 per second on Linux (sysconf CLK_TCK).
  const machine = () => {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return { busy: (f.reduce((a, b) => a + b, 0) - f[3] - (f[4] ?? 0)) * 10 };
  };
  const t0 = performance.now();
  const p0 = process.cpuUsage();
  const m0 = machine();
  const th0 = threadCpu();
  const s0 = mainSchedstat();
  return () => {
    const wallMs = performance.now() - t0;
    const s1 = mainSchedstat();
    const p = process.cpuUsage(p0);
    const m1 = machine();
    const th1 = threadCpu();
    const threadMs: Record<string, number> = {};
    for (const [id, t] of th1) {
      // BENCH_TID=1: one entry per thread (Node names its worker, libuv and V8 threads all "node").
      const key = process.env.BENCH_TID ? `${t.name}:${id}` : t.name;
      threadMs[key] = (threadMs[key] ?? 0) + t.ms - (th0.get(id)?.ms ?? 0);
    }
    const r2 = (x: number) => Math.round(x * 100) / 100;
    const runningMs = Math.round((s1.running - s0.running) / 1e6);
    const waitingForCoreMs = Math.round((s1.waiting - s0.waiting) / 1e6);
    const main = {
      runningMs,
      waitingForCoreMs,
      asleepMs: Math.max(0, Math.round(wallMs) - runningMs - waitingForCoreMs),
    };
    return {
      processCores: r2((p.user + p.system) / 1000 / wallMs),
      machineCores: r2((m1.busy - m0.busy) / wallMs),
      threadMs,
      main,
    };
  };
}

/** Nanoseconds the main thread has run on a core and waited, runnable, for one (Linux schedstat). */
function mainSchedstat(): { running: number; waiting: number } {
  try {
    const [running, waiting] = fs
      .readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8')
      .split(' ')
      .map(Number);
    return { running, waiting };
  } catch {
    return { running: 0, waiting: 0 }; // a kernel without schedstats: the figures read 0
  }
}

/**
 * CPU milliseconds of each of this process's threads (/proc/self/task/<tid>/stat, utime + stime in USER_HZ), named
 * "principal" for the event loop's; Node 20 names every other one "node" (the parse thread, libuv's pool, V8's helpers).
 */
function threadCpu(): Map<string, { name: string; ms: number }> {
  const out = new Map<string, { name: string; ms: number }>();
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, {
        name: tid === String(process.pid) ? 'principal' : name,
        ms: (Number(f[11]) + Number(f[12])) * 10,
      });
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

export interface MesaEnv {
  databaseUrl?: string;
  env: Record<string, string>;
}

type Ingest = Awaited<ReturnType<typeof createApp>>['ingest'];

/**
 * One MailboxPoller over one folder until `expected` mails are recorded, timed from its start. Counted from what
 * ingestMany returns (each recorded mail once), not by polling the ledger: a COUNT(*) every few ms would run on Mesa's
 * own thread and database connection, and be measured as Mesa's.
 */
async function pollFolder(
  app: Awaited<ReturnType<typeof createApp>>,
  mailbox: MailboxConfig,
  expected: number,
  logger: Logger,
) {
  const { MailboxPoller } = await import('../../src/inbound/poller.ts');
  let inIngest = 0;
  let done = 0;
  let finished!: () => void;
  const allDone = new Promise<void>((resolve) => {
    finished = resolve;
  });
  const timed = {
    parseAhead: (raws: Buffer[]) => app.ingest.parseAhead(raws),
    tooLargeToRead: (size: number) => app.ingest.tooLargeToRead(size),
    keepTooLarge: (content: Parameters<Ingest['keepTooLarge']>[0]) => app.ingest.keepTooLarge(content),
    readSource: (content: Parameters<Ingest['readSource']>[0]) => app.ingest.readSource(content),
    ingestMany: async (items: Parameters<Ingest['ingestMany']>[0]) => {
      const a = performance.now();
      try {
        const results = await app.ingest.ingestMany(items);
        done += results.filter((r) => r.outcome !== 'tempfail' && !r.alreadyProcessed).length;
        if (done >= expected) finished();
        return results;
      } finally {
        inIngest += performance.now() - a;
      }
    },
  };
  const t0 = performance.now();
  const meter = cpuMeter();
  const poller = new MailboxPoller({ db: app.db, ingest: timed, logger }, mailbox).start();
  await allDone;
  const ms = performance.now() - t0;
  const cpu = meter();
  await poller.stop();
  return { ms, cpu, done, inIngest };
}

/**
 * Mesa's own path: the MailboxPoller of `mesa start` reading the folder into a fresh (optionally seeded) database,
 * after the warm-up folder has gone through the same poller into the same database (not timed).
 */
export async function mesaIngest(
  imap: ImapTarget,
  expected: number,
  mesa: MesaEnv,
  seed = 0,
  warm?: Warm,
): Promise<PhaseResult> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-bench-'));
  const config = loadConfig({
    ...mesa.env,
    DATA_DIR: dataDir,
    DATABASE_URL: mesa.databaseUrl ?? '',
    IMAP_HOST: imap.host,
    IMAP_PORT: String(imap.port),
    IMAP_SECURE: 'false',
    IMAP_USER: imap.user,
    IMAP_PASSWORD: imap.password,
    IMAP_MAILBOX: imap.folder,
    IMAP_POLL_SECONDS: '3600',
  });
  // Logs on, as in production (one line per mail), written to /dev/null: the cost of logging is part of Mesa's.
  const logger = pino({ level: 'info', base: { app: 'mesa' } }, pino.destination({ dest: '/dev/null', sync: false }));
  const app = await createApp(config, logger, threadBodies);
  let seedMs = 0;
  if (seed > 0) {
    const s0 = performance.now();
    await seedCases(app.db, seed);
    seedMs = performance.now() - s0;
  }
  // As `mesa start` does once it listens: the parser, the filters and the parse thread are ready before mail comes.
  await app.ingest.warm();
  let warmMs = 0;
  if (warm) {
    const w = await pollFolder(app, { ...config.mailboxes[0], mailbox: warm.folder }, warm.count, logger);
    if (w.done !== warm.count) throw new Error(`mesa: ${w.done} correos de calentamiento, se esperaban ${warm.count}`);
    warmMs = Math.round(w.ms);
  }
  const { ms, cpu, done, inIngest } = await pollFolder(app, config.mailboxes[0], expected, logger);
  const outcomes = await app
    .db('ingest_ledger')
    .select('outcome', 'effect')
    .count({ n: '*' })
    .groupBy('outcome', 'effect')
    .where('source_key', 'like', `imap:support:${imap.folder}:%`);
  const recorded = outcomes.reduce((sum: number, o: any) => sum + Number(o.n), 0);
  if (recorded !== done) throw new Error(`mesa: ${done} correos según ingestMany, ${recorded} en el registro`);
  await app.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
  return {
    ms,
    count: done,
    rate: (done / ms) * 1000,
    peakRssMb: peakRssMb(),
    extra: {
      cpu,
      inIngestMs: Math.round(inIngest),
      seedMs: Math.round(seedMs),
      warm: warm?.count ?? 0,
      warmMs,
      outcomes: Object.fromEntries(outcomes.map((o: any) => [`${o.outcome}/${o.effect ?? '-'}`, Number(o.n)])),
    },
  };
}

/**
 * Mesa's sending path: `warm` + M confirmations committed to the outbox (by ingesting new-case mails with the
 * dispatcher stopped), the M timed ones held back (due in a day); the dispatcher of `mesa start` sends the warm-up
 * ones, then the M are made due and it sends them all to the sink, on the same SMTP pool: only these are timed.
 */
export async function mesaNotify(
  smtp: { host: string; port: number },
  count: number,
  mesa: MesaEnv,
  warm = 0,
): Promise<PhaseResult> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-bench-'));
  const config = loadConfig({
    ...mesa.env,
    CONSULTANTS: '',
    DATA_DIR: dataDir,
    DATABASE_URL: mesa.databaseUrl ?? '',
    SMTP_HOST: smtp.host,
    SMTP_PORT: String(smtp.port),
    SMTP_SECURE: 'false',
  });
  const logger = pino({ level: 'info', base: { app: 'mesa' } }, pino.destination({ dest: '/dev/null', sync: false }));
  const app = await createApp(config, logger, threadBodies);
  const { generateMails } = await import('./corpus.ts');
  // One sequence for both, so that no timed customer is a warm-up customer (each has a cap on automatic replies).
  const mails = generateMails((count + warm) * 3, { seed: 'notify' })
    .filter((m) => m.kind.startsWith('new'))
    .slice(0, count + warm);
  const sentCount = async () => Number((await app.db('outbox').where({ state: 'sent' }).count({ n: '*' }))[0].n);
  for (const m of mails.slice(0, warm)) await app.ingest.ingest(m.raw, { kind: 'stdin' });
  const warmRows = Number((await app.db('outbox').count({ n: '*' }))[0].n);
  const lastWarm = Number((await app.db('outbox').max({ id: 'id' }))[0].id ?? 0);
  for (const m of mails.slice(warm)) await app.ingest.ingest(m.raw, { kind: 'stdin' });
  const timed = app.db('outbox').where('id', '>', lastWarm);
  await timed.clone().update({ next_attempt_at: Date.now() + 86_400_000 });
  const rows = Number((await timed.clone().count({ n: '*' }))[0].n);
  const sample = await timed.clone().first('mail_json');
  const { dispatcher } = app.outbound;
  dispatcher.start();
  // Counted by the dispatcher (each mail it marked sent), not by polling the table: a COUNT(*) every few ms would run
  // on Mesa's own thread and connection, and be measured as Mesa's (the limit counts its own sends too).
  while (dispatcher.delivered < warmRows) await new Promise((r) => setTimeout(r, 10));
  const t0 = performance.now();
  const meter = cpuMeter();
  await timed.clone().update({ next_attempt_at: Date.now() });
  dispatcher.kick();
  while (dispatcher.delivered < warmRows + rows) await new Promise((r) => setTimeout(r, 10));
  const ms = performance.now() - t0;
  const cpu = meter();
  if ((await sentCount()) !== warmRows + rows)
    throw new Error('mesa: el despachador contó correos que no quedaron enviados');
  await app.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
  const stored = JSON.parse(sample.mail_json);
  const mail = { subject: stored.subject, ...contentOf(stored, app.outbound.renderer, app.config) };
  return {
    ms,
    count: rows,
    rate: (rows / ms) * 1000,
    peakRssMb: peakRssMb(),
    extra: {
      poolSize: config.outbound.smtp?.poolSize,
      warm: warmRows,
      cpu,
      sample: { subject: mail.subject, html: mail.html, text: mail.text },
    },
  };
}
