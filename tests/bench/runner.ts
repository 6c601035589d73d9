import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cachedBundle, MESA_ENTRIES, MIGRATIONS, migrationEntries, ROOT } from '../../src/bundle.js';
import type { PhaseResult } from './phases.ts';

/**
 * Each measurement runs in its own Node process (tests/bench/child.ts), and that process runs what `mesa start` runs:
 * an esbuild bundle built by src/bundle.js with `mesa`'s own options, packages and parse thread, here with the bench's
 * phases as its entry point (node_modules/.cache/mesa-bench/). The limit's phases run from the same bundle, so both
 * sides of each ratio load their code the same way. BENCH_RUNTIME=tsx runs the sources under tsx instead: CPU profiles
 * then name node_modules/ files and packages one by one (tests/bench/profile-summary.ts); to look, not to measure.
 */
export const RUNTIME: 'bundle' | 'tsx' = process.env.BENCH_RUNTIME === 'tsx' ? 'tsx' : 'bundle';

let bundle: Promise<string> | undefined;
/** Built once per bench run (and cached across runs while src/ and tests/bench/ are unchanged). */
export const benchBundle = (): Promise<string> => (bundle ??= cachedBundle({
  name: 'mesa-bench',
  entryPoints: { child: path.join(ROOT, 'tests/bench/child.ts'), 'parse-worker': MESA_ENTRIES['parse-worker'], ...migrationEntries() },
  sources: [path.join(ROOT, 'src'), path.join(ROOT, 'tests/bench'), MIGRATIONS],
}));

const r1 = (n: number) => Math.round(n * 10) / 10;

/** Runs one measurement in its own Node process and returns what it printed; `quiet` leaves stderr alone (tests). */
export async function runChild<T extends PhaseResult>(job: Record<string, unknown>, opts: { quiet?: boolean } = {}): Promise<T> {
  const label = `${job.phase}${job.seed !== undefined ? `(${job.seed})` : ''}`;
  const say = (s: string) => opts.quiet || process.stderr.write(s);
  const dir = RUNTIME === 'bundle' ? await benchBundle() : undefined;
  say(`  ${label} …`);
  // BENCH_CPU_PROF=<phase> writes a V8 CPU profile of that phase under tests/.artifacts/prof (open it in Chrome).
  const prof = process.env.BENCH_CPU_PROF === job.phase ? ['--cpu-prof', `--cpu-prof-dir=${path.join(ROOT, 'tests/.artifacts/prof')}`] : [];
  // BENCH_NODE_FLAGS="--trace-gc …" passes Node/V8 flags to every measured child (to look, not to measure).
  const extra = process.env.BENCH_NODE_FLAGS?.split(/\s+/).filter(Boolean) ?? [];
  const entry = dir ? [path.join(ROOT, 'tests/bench/launch.js')] : ['--import', 'tsx', path.join(ROOT, 'tests/bench/child.ts')];
  const p = spawn(process.execPath, [...extra, ...prof, ...entry, JSON.stringify(job)], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...(dir ? { MESA_BENCH_BUNDLE: dir } : {}) },
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
  const c = result.extra?.cpu as { processCores: number; machineCores: number; threadMs?: Record<string, number>; main?: { runningMs: number; waitingForCoreMs: number; asleepMs: number } } | undefined;
  const main = c?.main ? `; hilo principal: en un núcleo ${c.main.runningMs} ms, esperando núcleo ${c.main.waitingForCoreMs} ms, dormido ${c.main.asleepMs} ms` : '';
  const cpu = c ? ` CPU ${c.processCores} núcleos (máquina ${c.machineCores}; ms por hilo: ${Object.entries(c.threadMs ?? {}).filter(([, ms]) => Number(ms) > 0).map(([n, ms]) => `${n} ${ms}`).join(', ')}${main})` : '';
  say(` ${result.rate ? `${r1(result.rate)}/s` : ''} ${result.peakRssMb ? `${result.peakRssMb} MB` : ''}${cpu}\n`);
  return result;
}
