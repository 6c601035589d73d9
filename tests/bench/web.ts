import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import knexFactory from 'knex';
import { runCli } from '../support/cli.ts';
import type { Dovecot } from '../support/dovecot.ts';
import { startMesa, type BenchDb } from './served.ts';
import type { BenchSink } from './sink.ts';
import { seedWebCases } from './web-seed.ts';

/**
 * The web figures (`npm run bench -- --only web`): `mesa start` over a database of `count` cases, loaded by
 * `connections` concurrent clients (autocannon) on the case page, "Mis casos" with a filter and the knowledge base
 * search; beside them, a bare fastify route answering "hello" in its own process, measured in the same run.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface WebFigure {
  name: string;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  errors: number;
  non2xx: number;
}

export interface WebResult {
  cases: number;
  seedMs: number;
  connections: number;
  seconds: number;
  figures: WebFigure[];
}

/** Loads `paths` in turn (one per request) on `base`, after a warm-up of `warm` seconds that is not counted. */
async function load(
  name: string,
  base: string,
  paths: string[],
  o: { connections: number; seconds: number; warm: number },
): Promise<WebFigure> {
  let next = 0;
  const run = async (duration: number) => {
    const times: number[] = [];
    const r = await new Promise<autocannon.Result>((resolve, reject) => {
      const instance = autocannon(
        {
          url: base,
          connections: o.connections,
          duration,
          requests: [{ setupRequest: (req) => ({ ...req, path: paths[next++ % paths.length] }) }],
        },
        (err, result) => (err ? reject(err) : resolve(result)),
      );
      // autocannon reports p50, p97.5 and p99 but no p95: every response time is kept and the three read from them.
      instance.on('response', (_client, _status, _bytes, ms) => times.push(ms));
    });
    console.error(
      JSON.stringify({
        ...r,
        latency: undefined,
        requests: r.requests,
        errors: r.errors,
        statusCodeStats: r.statusCodeStats,
      }).slice(0, 1500),
    );
    return { r, times: times.sort((a, b) => a - b) };
  };
  if (o.warm > 0) await run(o.warm);
  const { r, times } = await run(o.seconds);
  const at = (q: number) => Math.round(times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)] * 10) / 10;
  const figure = {
    name,
    rps: Math.round(times.length / o.seconds),
    p50: at(0.5),
    p95: at(0.95),
    p99: at(0.99),
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
  };
  console.error(
    `  web ${name}: ${figure.rps} req/s, p50 ${figure.p50} ms, p95 ${figure.p95} ms, p99 ${figure.p99} ms${figure.errors || figure.non2xx ? ` (${figure.errors} errores, ${figure.non2xx} no 2xx)` : ''}`,
  );
  return figure;
}

/** CPU time (user + system, in clock ticks) a Linux process has used so far, from /proc/<pid>/stat. */
function cpuTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The fields after the command name, which is in parentheses and may hold spaces: utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** Waits until `pid` has used under 5 % of a core for half a second (at most 60 s); how long that took. */
async function quiet(pid: number): Promise<number> {
  if (!fs.existsSync(`/proc/${pid}/stat`)) return 0;
  const t0 = performance.now();
  let before = cpuTicks(pid);
  while (performance.now() - t0 < 60_000) {
    await new Promise((r) => setTimeout(r, 500));
    const now = cpuTicks(pid);
    // Clock ticks are 10 ms on Linux: fewer than 3 in 500 ms is under 5 % of a core.
    if (now - before < 3) break;
    before = now;
  }
  return Math.round(performance.now() - t0);
}

/** fastify answering "hello" in a process of its own, as Mesa's server runs in its own. */
async function bareFastify(): Promise<{ url: string; stop(): void }> {
  const script =
    "import Fastify from 'fastify'; const f = Fastify(); f.get('/', async () => 'hello'); const a = await f.listen({ port: 0, host: '127.0.0.1' }); console.log(a);";
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.once('data', (d) => resolve(String(d).trim()));
    child.once('exit', (code) => reject(new Error(`fastify salió (${code})`)));
  });
  return { url, stop: () => child.kill('SIGTERM') };
}

export async function webBench(
  dovecot: Dovecot,
  sink: BenchSink,
  db: BenchDb,
  o: { count: number; connections: number; seconds: number; warm: number },
): Promise<WebResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-bench-web-'));
  // Everyone of an organization sees its cases (the heavier list), as an organization that shares them.
  const env: BenchDb = { ...db, env: { ...db.env, CASE_LIST_ORGANIZATIONS: '*', LOG_LEVEL: 'warn' } };
  // A first start migrates the database; then the cases are seeded under it, and Mesa started again on them.
  const first = await startMesa(dovecot, sink, 'web', env, dir);
  await first.ready.finally(() => first.stop());
  const probe = knexFactory(
    db.databaseUrl
      ? { client: 'pg', connection: db.databaseUrl }
      : { client: 'better-sqlite3', connection: { filename: path.join(dir, 'mesa.sqlite') }, useNullAsDefault: true },
  );
  const t0 = performance.now();
  let tokens: string[];
  try {
    ({ tokens } = await seedWebCases(probe, o.count, env.env.SECRET_KEY));
  } finally {
    await probe.destroy();
  }
  const seedMs = Math.round(performance.now() - t0);
  // The clock-driven jobs once, as on a database that has been in use: the SLA lights of the open cases recorded,
  // old cases in testing closed. Else the measured Mesa's scheduler does that first, during the load.
  const t1 = performance.now();
  const jobs = await runCli(['jobs'], { env: { ...env.env, DATA_DIR: dir, DATABASE_URL: db.databaseUrl ?? '' } });
  if (jobs.code !== 0) throw new Error(`mesa jobs: ${jobs.stderr.slice(-2000)}`);
  console.error(
    `  web: ${o.count} casos sembrados en ${seedMs} ms; mesa jobs en ${Math.round(performance.now() - t1)} ms`,
  );
  const bare = await bareFastify();
  const mesa = await startMesa(
    dovecot,
    sink,
    'web',
    process.env.BENCH_CPU_PROF === 'web'
      ? { ...env, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${path.join(ROOT, 'tests/.artifacts/prof')}`] }
      : env,
    dir,
  );
  const figures: WebFigure[] = [];
  try {
    await mesa.ready;
    // `mesa start` runs the clock-driven jobs once as it starts (the SLA lights of every open case: seconds of CPU on
    // 100,000 cases, even with nothing to change); the figures start once it is done, not during it.
    const quietAfterMs = await quiet(mesa.pid);
    console.error(`  web: mesa start en reposo ${quietAfterMs} ms después de responder /healthz`);
    const base = mesa.url;
    const load1 = (name: string, url: string, paths: string[]) =>
      load(name, url, paths, o).then((f) => figures.push(f));
    await load1('bare fastify "hello"', bare.url, ['/']);
    await load1(
      'case page',
      base,
      tokens.map((t) => `/caso/${t}`),
    );
    await load1(
      'list, filtered',
      base,
      tokens.map(
        (t, k) =>
          `/caso/${t}/casos?estado=abiertos&producto=${encodeURIComponent(['Contabilidad', 'Nómina', 'POS', 'Facturación'][k % 4])}`,
      ),
    );
    const queries = [
      'factura electronica rechazada',
      'conciliacion bancos',
      'nomina seguridad social',
      'caja no abre',
      'facturas duplicadas',
    ];
    await load1(
      'knowledge search',
      base,
      tokens.map((t, k) => `/caso/${t}/conocimiento?q=${encodeURIComponent(queries[k % queries.length])}`),
    );
    await load1('bare fastify "hello" (again)', bare.url, ['/']);
  } finally {
    bare.stop();
    await mesa.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { cases: o.count, seedMs, connections: o.connections, seconds: o.seconds, figures };
}
