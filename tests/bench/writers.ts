import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { freshPgDatabase, testEnv } from '../support/app.ts';
import { runCli, type CliResult } from '../support/cli.ts';

/**
 * Many writers on one database: deliveries per second with 1, 4 and 16 `mesa ingest -` at once, each a process of
 * its own with one mail on its standard input, as an MTA's pipe delivers (Postfix runs up to 20 per transport).
 * Not part of `npm test`:
 *
 *   npx tsx tests/bench/writers.ts [--writers 1,4,16] [--mails 32] [--pg [SERVER_URL]]
 *
 * For each number of writers, on a new database (migrated first, not timed): the deliveries per second, the wall
 * time of one delivery (median and worst), the CPU of one delivery (the whole process: start, migrations check,
 * parse thread, ingest; from the kernel's account of this process's finished children, Linux only), and on SQLite
 * how often the file's write lock was found taken (sampled every 5 ms by a connection that tries to take it).
 */
const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? undefined : args[i + 1] && !args[i + 1].startsWith('--') ? args[i + 1] : '';
};
const WRITERS = (opt('writers') || '1,4,16').split(',').map(Number);
const MAILS = Number(opt('mails') || 32);
const PG = opt('pg');
const PG_SERVER = PG || process.env.MESA_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';

const mailOf = (run: number, n: number) =>
  [
    `From: Cliente ${n} <cliente${n}@empresa${n % 7}.co>`,
    'To: soporte@mesa.test',
    `Subject: Falla ${n} en facturación`,
    `Message-ID: <w${run}-${n}-${process.pid}@empresa${n % 7}.co>`,
    'Date: Mon, 23 Nov 2026 10:00:00 -0500',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    `Buenos días. La factura ${n} no sale desde ayer; adjunto el detalle.`,
    '',
  ].join('\r\n');

/** CPU seconds of this process's finished (waited-for) children: cutime + cstime of /proc/self/stat. */
function childrenCpu(): number | undefined {
  try {
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 16 and 17 of proc(5), counted from the state (field 3); in clock ticks, USER_HZ = 100 on Linux.
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return undefined;
  }
}

/** How often a writer would find SQLite's write lock taken: tries to take it (no wait) every 5 ms. */
function sampleWriteLock(filename: string): () => number {
  const probe = new Database(filename, { timeout: 0 });
  let taken = 0;
  let free = 0;
  const timer = setInterval(() => {
    try {
      probe.exec('BEGIN IMMEDIATE');
      probe.exec('ROLLBACK');
      free++;
    } catch {
      taken++;
    }
  }, 5);
  return () => {
    clearInterval(timer);
    probe.close();
    return taken / Math.max(1, taken + free);
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface Row {
  writers: number;
  mails: number;
  seconds: number;
  perSecond: number;
  wallP50: number;
  wallMax: number;
  cpu?: number;
  lockTaken?: number;
  load: string;
}

async function measure(writers: number, run: number): Promise<Row> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-writers-'));
  const databaseUrl =
    PG !== undefined
      ? await freshPgDatabase(`mesa_writers_${process.pid}_${run}`, PG_SERVER)
      : path.join(dataDir, 'mesa.sqlite');
  const env = testEnv(dataDir, { DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' });
  const migrated = await runCli(['migrate'], { env });
  if (migrated.code !== 0) throw new Error(`mesa migrate: ${migrated.stderr}`);

  const stopSampling = PG === undefined ? sampleWriteLock(databaseUrl) : undefined;
  const cpuBefore = childrenCpu();
  const walls: number[] = [];
  const failed: CliResult[] = [];
  let next = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: writers }, async () => {
      for (let n = next++; n < MAILS; n = next++) {
        const t = Date.now();
        const r = await runCli(['ingest', '-'], { env, stdin: mailOf(run, n) });
        walls.push((Date.now() - t) / 1000);
        if (r.code !== 0) failed.push(r);
      }
    }),
  );
  const seconds = (Date.now() - started) / 1000;
  const cpuAfter = childrenCpu();
  const lockTaken = stopSampling?.();
  if (failed.length)
    throw new Error(
      `${failed.length} de ${MAILS} entregas fallaron; la primera (${failed[0].code}): ${failed[0].stdout}${failed[0].stderr.slice(-1500)}`,
    );

  const tickets = await runCli(['tickets', '--json'], { env });
  if (tickets.code !== 0) throw new Error(`mesa tickets (${tickets.code}): ${tickets.stderr.slice(-1500)}`);
  const cases = (JSON.parse(tickets.stdout) as unknown[]).length;
  if (cases !== MAILS) throw new Error(`${MAILS} correos y ${cases} casos`);
  fs.rmSync(dataDir, { recursive: true, force: true });
  return {
    writers,
    mails: MAILS,
    seconds,
    perSecond: MAILS / seconds,
    wallP50: median(walls),
    wallMax: Math.max(...walls),
    cpu: cpuBefore === undefined || cpuAfter === undefined ? undefined : (cpuAfter - cpuBefore) / MAILS,
    lockTaken,
    load: os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' '),
  };
}

const cpuModel = (() => {
  try {
    return fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.+)$/m)?.[1] ?? os.cpus()[0]?.model;
  } catch {
    return os.cpus()[0]?.model;
  }
})();
console.log(
  `Máquina: ${os.availableParallelism()} núcleos (${cpuModel}), Node ${process.versions.node}, ${PG !== undefined ? 'PostgreSQL' : 'SQLite'}; carga al empezar ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
console.log(
  'escritores  correos  segundos  entregas/s  por entrega (mediana / peor)  CPU por entrega  cerrojo ocupado  carga',
);
for (const [run, writers] of WRITERS.entries()) {
  const r = await measure(writers, run);
  console.log(
    [
      String(r.writers).padStart(10),
      String(r.mails).padStart(8),
      r.seconds.toFixed(1).padStart(9),
      r.perSecond.toFixed(2).padStart(11),
      `${r.wallP50.toFixed(2)} / ${r.wallMax.toFixed(2)} s`.padStart(29),
      (r.cpu === undefined ? 'n/d' : `${r.cpu.toFixed(2)} s`).padStart(16),
      (r.lockTaken === undefined ? 'n/d' : `${(r.lockTaken * 100).toFixed(1)} %`).padStart(16),
      `  ${r.load}`,
    ].join(' '),
  );
}
