import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import knexFactory from 'knex';
import { spawnCli } from '../support/cli.ts';
import type { Dovecot } from '../support/dovecot.ts';
import { generateMails } from './corpus.ts';
import type { ImapTarget } from './phases.ts';
import type { BenchSink } from './sink.ts';

/**
 * The figures taken on `mesa start` itself, as an operator runs it (latency, memory with a large attachment,
 * start-up), and the floor the latency is compared with.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A measured Mesa's database: an SQLite file in its DATA_DIR (no URL), or a fresh PostgreSQL database. */
export interface BenchDb {
  databaseUrl?: string;
  env: Record<string, string>;
  nodeArgs?: string[];
}

/** The floor for latency: APPEND on one connection, time until an IDLE client on the folder hears EXISTS. */
export async function idleFloor(dovecot: Dovecot, target: ImapTarget, k: number): Promise<number[]> {
  const watcher = await dovecot.client('support');
  const writer = await dovecot.client('support');
  await writer.mailboxCreate(target.folder).catch(() => undefined);
  await watcher.mailboxOpen(target.folder);
  const out: number[] = [];
  try {
    for (let i = 0; i < k; i++) {
      const heard = new Promise<number>((resolve) => watcher.once('exists', () => resolve(performance.now())));
      void watcher.idle().catch(() => undefined);
      // Let IDLE reach the server before the APPEND, as it has in a running Mesa.
      await new Promise((r) => setTimeout(r, 50));
      const t0 = performance.now();
      await writer.append(target.folder, generateMails(1, { seed: `floor${i}` })[0].raw);
      out.push((await heard) - t0);
      await watcher.noop(); // breaks IDLE
    }
  } finally {
    await writer.logout();
    await watcher.logout();
  }
  return out;
}

export interface RunningMesa {
  pid: number;
  /** Its web server, http://127.0.0.1:<port>. */
  url: string;
  ready: Promise<number>;
  stop(): Promise<void>;
}

/** `mesa start` as an operator runs it: its own process, the bench Dovecot folder, the sink, a free HTTP port. */
export async function startMesa(
  dovecot: Dovecot,
  sink: BenchSink,
  folder: string,
  db: BenchDb,
  dataDir?: string,
): Promise<RunningMesa> {
  const dir = dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-bench-start-'));
  const port = await freeHttpPort();
  const t0 = performance.now();
  const {
    child: p,
    output,
    exited,
  } = spawnCli(['start'], {
    cwd: ROOT,
    keep: 4000,
    // BENCH_CPU_PROF=web (tests/bench/web.ts): a V8 profile of the measured `mesa start`, written when it stops.
    nodeArgs: db.nodeArgs,
    env: {
      ...db.env,
      LOG_LEVEL: 'warn',
      DATA_DIR: dir,
      DATABASE_URL: db.databaseUrl ?? '',
      HTTP_PORT: String(port),
      IMAP_HOST: dovecot.host,
      IMAP_PORT: String(dovecot.port),
      IMAP_SECURE: 'false',
      IMAP_USER: 'support',
      IMAP_PASSWORD: dovecot.users.support.password,
      IMAP_MAILBOX: folder,
      SMTP_HOST: sink.host,
      SMTP_PORT: String(sink.port),
      SMTP_SECURE: 'false',
    },
  });
  const ready = (async () => {
    for (;;) {
      if (p.exitCode !== null) throw new Error(`mesa start salió (${p.exitCode}): ${output()}`);
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return performance.now() - t0;
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return {
    pid: p.pid!,
    url: `http://127.0.0.1:${port}`,
    ready,
    async stop() {
      p.kill('SIGTERM');
      const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/**
 * The memory figure as an operator would see it: `mesa start` (the production process, not a bench child) reads one
 * mail with a large attachment from its folder, files the case and sends its mail (the consultants' notice lists the
 * file: larger than MAIL_ATTACH_MAX_BYTES, it is not attached; the bench's environment may set that key, it reaches
 * `mesa start`); peak RSS is the kernel's high-water mark (VmHWM) of that process over the whole of it.
 */
export async function bigMail(
  dovecot: Dovecot,
  sink: BenchSink,
  db: BenchDb,
): Promise<{ peakRssMb: number; idleRssMb: number; sent: number; ms: number }> {
  sink.reset();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-bench-big-'));
  const probe = knexFactory(
    db.databaseUrl
      ? { client: 'pg', connection: db.databaseUrl }
      : { client: 'better-sqlite3', connection: { filename: path.join(dir, 'mesa.sqlite') }, useNullAsDefault: true },
  );
  process.stderr.write('  mesa start (big) …');
  // A first start on another folder migrates the database and compiles the templates into DATA_DIR/cache, as on any
  // server after its first day: the figure is a running Mesa's, not the one-off cost of loading mjml.
  const first = await startMesa(dovecot, sink, 'big-warm', db, dir);
  await first.ready.finally(() => first.stop());
  const mesa = await startMesa(dovecot, sink, 'big', db, dir);
  try {
    await mesa.ready;
    const idleRssMb = vmHwmMb(mesa.pid);
    const t0 = performance.now();
    let sent = 0;
    for (;;) {
      const ledger = await probe('ingest_ledger')
        .count({ n: '*' })
        .then(
          (r) => Number(r[0].n),
          () => 0,
        );
      const open = ledger
        ? Number((await probe('outbox').whereIn('state', ['pending', 'sending']).count({ n: '*' }))[0].n)
        : 1;
      if (ledger >= 1 && open === 0) {
        sent = Number((await probe('outbox').where({ state: 'sent' }).count({ n: '*' }))[0].n);
        break;
      }
      if (performance.now() - t0 > 120_000) throw new Error('el correo grande no se procesó en 2 minutos');
      await new Promise((r) => setTimeout(r, 20));
    }
    const ms = performance.now() - t0;
    const peakRssMb = vmHwmMb(mesa.pid);
    process.stderr.write(` ${peakRssMb} MB (idle ${idleRssMb} MB)\n`);
    return { peakRssMb, idleRssMb, sent, ms: Math.round(ms) };
  } finally {
    await probe.destroy();
    await mesa.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A process's peak resident set so far (Linux /proc), in MB as process.resourceUsage().maxRSS is reported. */
function vmHwmMb(pid: number): number {
  const kb = Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return Math.round(kb / 1024);
}

export async function startupTime(dovecot: Dovecot, sink: BenchSink, db: BenchDb): Promise<number> {
  startupDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-bench-startup-'));
  const mesa = await startMesa(dovecot, sink, 'startup', db, startupDir);
  try {
    return await mesa.ready;
  } finally {
    await mesa.stop();
  }
}
let startupDir: string | undefined;

async function freeHttpPort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}
