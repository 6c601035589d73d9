import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ImapFlow } from 'imapflow';
import { simpleParser } from 'mailparser';
import nodemailer from 'nodemailer';
import { pino } from 'pino';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import type { MailSource } from '../../src/inbound/mail.ts';
import { contentOf } from '../../src/outbound/outbox.ts';
import { seedCases } from './seed.ts';

/**
 * Under BENCH_RUNTIME=tsx (profiles) the parse thread runs dist/'s body, built by bench.ts before the phases: Node 20
 * cannot start the TypeScript one as a thread. Built (as measured), the child runs its own build's body.
 */
const parseWorkerUrl = import.meta.url.endsWith('.ts') ? new URL('../../dist/src/inbound/parse-worker.js', import.meta.url) : undefined;

/**
 * What runs inside one child process per measurement, so that each peak RSS (process.resourceUsage().maxRSS)
 * belongs to that measurement alone and one phase's garbage does not slow the next.
 */

/** The configuration every measured Mesa runs with (plus its DATA_DIR, database and mailbox). */
export const MESA_ENV: Record<string, string> = {
  SUPPORT_ADDRESS: 'soporte@mesa.test', SUPPORT_NAME: 'Soporte Mesa', CONSULTANTS: 'ana@mesa.test',
  SECRET_KEY: 'bench-secret-key-0123456789abcdef0123456789', PUBLIC_URL: 'http://127.0.0.1:8080', LOG_LEVEL: 'info',
};

/** Mail straight into `app.ingest` without IMAP, in UID batches of 50 as the poller hands them over (tests/bench/
 * sqlprof.ts, sqlreplay.ts). Returns each batch's milliseconds. */
export async function ingestInBatches(app: { ingest: { ingestMany(items: Array<{ raw: Buffer; source: MailSource }>): Promise<unknown> } }, raws: readonly Buffer[]): Promise<number[]> {
  const batches: number[] = [];
  for (let i = 0; i < raws.length; i += 50) {
    const t0 = performance.now();
    await app.ingest.ingestMany(raws.slice(i, i + 50).map((raw, j) => ({ raw, source: { kind: 'imap', account: 'support', folder: 'INBOX', uidvalidity: 1, uid: i + j + 1 } })));
    batches.push(performance.now() - t0);
  }
  return batches;
}

export interface ImapTarget { host: string; port: number; user: string; password: string; folder: string }

/** `runtime`: what ran the measured process (tests/bench/runner.ts): the esbuild bundle `mesa start` runs, or tsx. */
export interface PhaseResult { ms: number; count: number; rate: number; peakRssMb: number; runtime?: 'bundle' | 'tsx'; extra?: Record<string, unknown> }

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
export function cpuMeter(): () => { processCores: number; machineCores: number; threadMs: Record<string, number>; main: { runningMs: number; waitingForCoreMs: number; asleepMs: number } } {
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
    const main = { runningMs, waitingForCoreMs, asleepMs: Math.max(0, Math.round(wallMs) - runningMs - waitingForCoreMs) };
    return { processCores: r2((p.user + p.system) / 1000 / wallMs), machineCores: r2((m1.busy - m0.busy) / wallMs), threadMs, main };
  };
}

/** Nanoseconds the main thread has run on a core and waited, runnable, for one (Linux schedstat). */
function mainSchedstat(): { running: number; waiting: number } {
  try {
    const [running, waiting] = fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ').map(Number);
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
      out.set(tid, { name: tid === String(process.pid) ? 'principal' : name, ms: (Number(f[11]) + Number(f[12])) * 10 });
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/** The floor: one range FETCH, simpleParser, one better-sqlite3 INSERT per mail (autocommit, as Mesa's WAL pragmas). */
export async function bareIngest(imap: ImapTarget, expected: number): Promise<PhaseResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-bare-'));
  const db = new Database(path.join(dir, 'bare.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE mail (uid INTEGER PRIMARY KEY, message_id TEXT, sender TEXT, subject TEXT, body TEXT)');
  const insert = db.prepare('INSERT INTO mail (uid, message_id, sender, subject, body) VALUES (?, ?, ?, ?, ?)');
  // Timed from before connecting, as Mesa's side is (its poller connects, logs in and selects the folder inside its
  // timed span): both sides of the ratio count the same work around the mail.
  let count = 0;
  const t0 = performance.now();
  const cpu = cpuMeter();
  const client = new ImapFlow({ host: imap.host, port: imap.port, secure: false, auth: { user: imap.user, pass: imap.password }, logger: false, disableAutoIdle: true });
  await client.connect();
  const lock = await client.getMailboxLock(imap.folder);
  try {
    for await (const msg of client.fetch('1:*', { uid: true, source: true })) {
      const parsed = await simpleParser(msg.source!);
      insert.run(msg.uid, parsed.messageId ?? null, parsed.from?.text ?? null, parsed.subject ?? null, parsed.text ?? '');
      count++;
    }
  } finally {
    lock.release();
  }
  const ms = performance.now() - t0;
  const cores = cpu();
  await client.logout();
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
  if (count !== expected) throw new Error(`bare: ${count} correos, se esperaban ${expected}`);
  return { ms, count, rate: (count / ms) * 1000, peakRssMb: peakRssMb(), extra: { cpu: cores } };
}

export interface MesaEnv { databaseUrl?: string; env: Record<string, string> }

/** Mesa's own path: the MailboxPoller of `mesa start` reading the folder into a fresh (optionally seeded) database. */
export async function mesaIngest(imap: ImapTarget, expected: number, mesa: MesaEnv, seed = 0): Promise<PhaseResult> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-bench-'));
  const config = loadConfig({
    ...mesa.env, DATA_DIR: dataDir, DATABASE_URL: mesa.databaseUrl ?? '',
    IMAP_HOST: imap.host, IMAP_PORT: String(imap.port), IMAP_SECURE: 'false', IMAP_USER: imap.user,
    IMAP_PASSWORD: imap.password, IMAP_MAILBOX: imap.folder, IMAP_POLL_SECONDS: '3600',
  });
  // Logs on, as in production (one line per mail), written to /dev/null: the cost of logging is part of Mesa's.
  const logger = pino({ level: 'info', base: { app: 'mesa' } }, pino.destination({ dest: '/dev/null', sync: false }));
  const app = await createApp(config, logger, { parseWorkerUrl });
  let seedMs = 0;
  if (seed > 0) {
    const s0 = performance.now();
    await seedCases(app.db, seed);
    seedMs = performance.now() - s0;
  }
  // As `mesa start` does once it listens: the parser, the filters and the parse thread are ready before mail comes.
  await app.ingest.warm();
  const { MailboxPoller } = await import('../../src/inbound/poller.ts');
  let inIngest = 0;
  // Counted from what ingestMany returns (each recorded mail once), not by polling the ledger: a COUNT(*) every few
  // ms would run on Mesa's own thread and database connection, and be measured as Mesa's.
  let done = 0;
  let finished!: () => void;
  const allDone = new Promise<void>((resolve) => { finished = resolve; });
  const timed = {
    parseAhead: (raws: Buffer[]) => app.ingest.parseAhead(raws),
    ingestMany: async (items: any) => {
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
  const cpu = cpuMeter();
  const poller = new MailboxPoller({ db: app.db, ingest: timed, logger }, config.mailboxes[0]).start();
  await allDone;
  const ms = performance.now() - t0;
  const cores = cpu();
  await poller.stop();
  const outcomes = await app.db('ingest_ledger').select('outcome', 'effect').count({ n: '*' }).groupBy('outcome', 'effect').where('source_key', 'not like', 'imap:support:seed:%');
  const recorded = outcomes.reduce((sum: number, o: any) => sum + Number(o.n), 0);
  if (recorded !== done) throw new Error(`mesa: ${done} correos según ingestMany, ${recorded} en el registro`);
  await app.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
  return {
    ms, count: done, rate: (done / ms) * 1000, peakRssMb: peakRssMb(),
    extra: { cpu: cores, inIngestMs: Math.round(inIngest), seedMs: Math.round(seedMs), outcomes: Object.fromEntries(outcomes.map((o: any) => [`${o.outcome}/${o.effect ?? '-'}`, Number(o.n)])) },
  };
}

/** The floor for sending: a pooled nodemailer transport sending the same pre-rendered mail M times. */
export async function bareSend(smtp: { host: string; port: number }, count: number, sample: { subject: string; html: string; text: string }, poolSize = 3): Promise<PhaseResult> {
  // As many pooled connections as Mesa's dispatcher uses (SMTP_POOL_SIZE), so the ratio compares the software.
  const transport = nodemailer.createTransport({ host: smtp.host, port: smtp.port, secure: false, ignoreTLS: true, pool: true, maxConnections: poolSize, maxMessages: Infinity });
  const t0 = performance.now();
  await Promise.all(Array.from({ length: count }, (_, i) => transport.sendMail({
    from: '"Soporte" <soporte@mesa.test>', to: `cliente${i}@cliente.com.co`, subject: `[Caso #${i + 1}] ${sample.subject}`,
    html: sample.html, text: sample.text, messageId: `<bare-${i}-${Date.now()}@mesa.test>`, headers: { 'Auto-Submitted': 'auto-replied', 'X-Mesa-Bench': 'bare' },
  })));
  const ms = performance.now() - t0;
  transport.close();
  return { ms, count, rate: (count / ms) * 1000, peakRssMb: peakRssMb() };
}

/**
 * Mesa's sending path: M confirmations already committed to the outbox (by ingesting M new-case mails with the
 * dispatcher stopped), then the dispatcher of `mesa start` sends them all to the sink.
 */
export async function mesaNotify(smtp: { host: string; port: number }, count: number, mesa: MesaEnv): Promise<PhaseResult> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-bench-'));
  const config = loadConfig({
    ...mesa.env, CONSULTANTS: '', DATA_DIR: dataDir, DATABASE_URL: mesa.databaseUrl ?? '',
    SMTP_HOST: smtp.host, SMTP_PORT: String(smtp.port), SMTP_SECURE: 'false',
  });
  const logger = pino({ level: 'info', base: { app: 'mesa' } }, pino.destination({ dest: '/dev/null', sync: false }));
  const app = await createApp(config, logger, { parseWorkerUrl });
  const { generateMails } = await import('./corpus.ts');
  const mails = generateMails(count * 3, { seed: 'notify' }).filter((m) => m.kind.startsWith('new')).slice(0, count);
  for (const m of mails) await app.ingest.ingest(m.raw, { kind: 'stdin' });
  const rows = Number((await app.db('outbox').count({ n: '*' }))[0].n);
  const sample = await app.db('outbox').first('mail_json');
  const t0 = performance.now();
  app.outbound.dispatcher.start();
  for (;;) {
    const sent = Number((await app.db('outbox').where({ state: 'sent' }).count({ n: '*' }))[0].n);
    if (sent >= rows) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  const ms = performance.now() - t0;
  await app.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
  const stored = JSON.parse(sample.mail_json);
  const mail = { subject: stored.subject, ...contentOf(stored, app.outbound.renderer, app.config) };
  return {
    ms, count: rows, rate: (rows / ms) * 1000, peakRssMb: peakRssMb(),
    extra: { poolSize: config.outbound.smtp?.poolSize, sample: { subject: mail.subject, html: mail.html, text: mail.text } },
  };
}
