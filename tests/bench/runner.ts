import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { build, mesaEntryPoints, ROOT } from '../../scripts/build.mjs';
import type { PhaseResult } from './phases.ts';

/**
 * Each measurement runs in its own Node process (tests/bench/child.ts), and that process runs what `mesa start` runs:
 * Mesa built by scripts/build.mjs with `mesa`'s own options, packages, parse thread and migrations, here with the
 * bench's phases as one more entry point (tests/.artifacts/bench-dist-<pid>/src/bench-child.js, removed when the bench
 * process exits, unless BENCH_KEEP is set). The limit's phases run from the same build, so both sides of each ratio load their code the same
 * way. BENCH_RUNTIME=tsx runs the sources under tsx instead: CPU profiles then name node_modules/ files and packages one
 * by one (tests/bench/profile-summary.ts); to look, not to measure.
 */
export const RUNTIME: 'bundle' | 'tsx' = process.env.BENCH_RUNTIME === 'tsx' ? 'tsx' : 'bundle';

let built: Promise<string> | undefined;
/** Built once per bench process. */
export const benchBuild = (): Promise<string> =>
  (built ??= (async () => {
    const artifacts = path.join(ROOT, 'tests', '.artifacts');
    removeBuildsOfEndedProcesses(artifacts);
    const outdir = path.join(artifacts, `bench-dist-${process.pid}`);
    // BENCH_KEEP=1: left until the next bench run, for tests/bench/profile-summary.ts to read its source maps.
    if (!process.env.BENCH_KEEP) process.once('exit', removeBenchBuild);
    // The child's output lies in src/ of the build, beside Mesa's own modules (src/paths.ts finds its files from there).
    await build({
      outdir,
      entryPoints: [...mesaEntryPoints(), { in: 'tests/bench/child.ts', out: 'src/bench-child' }],
    });
    return outdir;
  })());

/** Removes this process's build (on exit; a test runner's worker may be stopped before its exit handlers run). */
export function removeBenchBuild(): void {
  fs.rmSync(path.join(ROOT, 'tests', '.artifacts', `bench-dist-${process.pid}`), { recursive: true, force: true });
}

/** A bench process killed before its exit handler ran (a test runner's worker, Ctrl-C) leaves its build behind. */
function removeBuildsOfEndedProcesses(dir: string): void {
  for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    const pid = Number(/^bench-dist-(\d+)$/.exec(name)?.[1]);
    if (!pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0); // still running: its build is in use
    } catch {
      fs.rmSync(path.join(dir, name), { recursive: true, force: true });
    }
  }
}

const r1 = (n: number) => Math.round(n * 10) / 10;

/** Runs one measurement in its own Node process and returns what it printed; `quiet` leaves stderr alone (tests). */
export async function runChild<T extends PhaseResult>(
  job: Record<string, unknown>,
  opts: { quiet?: boolean } = {},
): Promise<T> {
  const label = `${job.phase}${job.seed !== undefined ? `(${job.seed})` : ''}`;
  const say = (s: string) => opts.quiet || process.stderr.write(s);
  const dir = RUNTIME === 'bundle' ? await benchBuild() : undefined;
  say(`  ${label} …`);
  // BENCH_CPU_PROF=<phase>[,<phase>…]: a V8 CPU profile of each of those phases in tests/.artifacts/prof.
  const prof = (process.env.BENCH_CPU_PROF ?? '').split(',').includes(String(job.phase))
    ? ['--cpu-prof', `--cpu-prof-dir=${path.join(ROOT, 'tests/.artifacts/prof')}`]
    : [];
  // BENCH_NODE_FLAGS="--trace-gc …" passes Node/V8 flags to every measured child (to look, not to measure).
  const extra = process.env.BENCH_NODE_FLAGS?.split(/\s+/).filter(Boolean) ?? [];
  const entry = dir
    ? ['--enable-source-maps', path.join(dir, 'src', 'bench-child.js')]
    : ['--import', 'tsx', path.join(ROOT, 'tests/bench/child.ts')];
  const p = spawn(process.execPath, [...extra, ...prof, ...entry, JSON.stringify(job)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: process.env,
  });
  let out = '';
  let err = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (err += d));
  const code = await new Promise<number | null>((resolve) => p.on('exit', resolve));
  if (extra.length) fs.writeFileSync(path.join(ROOT, `tests/.artifacts/${label}.log`), out + err);
  const line = out.split('\n').find((l) => l.startsWith('@@RESULT '));
  if (code !== 0 || !line) throw new Error(`${label} falló (${code}):\n${err.slice(-3000)}`);
  const result = JSON.parse(line.slice(9)) as T;
  const c = result.extra?.cpu as
    | {
        processCores: number;
        machineCores: number;
        threadMs?: Record<string, number>;
        main?: { runningMs: number; waitingForCoreMs: number; asleepMs: number };
      }
    | undefined;
  const main = c?.main
    ? `; hilo principal: en un núcleo ${c.main.runningMs} ms, esperando núcleo ${c.main.waitingForCoreMs} ms, dormido ${c.main.asleepMs} ms`
    : '';
  const cpu = c
    ? ` CPU ${c.processCores} núcleos (máquina ${c.machineCores}; ms por hilo: ${Object.entries(c.threadMs ?? {})
        .filter(([, ms]) => Number(ms) > 0)
        .map(([n, ms]) => `${n} ${ms}`)
        .join(', ')}${main})`
    : '';
  say(` ${result.rate ? `${r1(result.rate)}/s` : ''} ${result.peakRssMb ? `${result.peakRssMb} MB` : ''}${cpu}\n`);
  return result;
}
