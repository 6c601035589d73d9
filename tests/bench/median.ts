import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { markdownTable, times, withUnit, yesNo, type Row } from './table.ts';

/**
 * `npm run bench -- --runs 3`: the whole bench run three times, one after the other, each a separate `bench.ts` with
 * its own JSON; the table then gives each figure's median over the runs, beside the value of every run. On a shared
 * 2-core machine one run's figures move by ±10 % or more from the next; the median of three moves far less.
 */

/** A figure over several runs: the median of each value, and each run's values in the order the runs ran. */
export interface MedianRow extends Row {
  runs: { mesa: Array<number | string>; limit: Array<number | string | undefined>; ratio: Array<number | undefined> };
}

/** The median of numbers: the middle one, or the mean of the two middle ones for an even count. */
export function median(xs: readonly number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

const numeric = (xs: ReadonlyArray<number | string | undefined>): xs is number[] =>
  xs.length > 0 && xs.every((x) => typeof x === 'number' && Number.isFinite(x));

/**
 * Merges the tables of several runs figure by figure (in the order the figures first appear). Mesa's value, the limit
 * and the ratio are each the median of the runs that have them; the ratio is not recomputed from the two medians,
 * since each run's ratio pairs a Mesa and a limit measured minutes apart at most. A figure meets its target when most
 * runs met it, which for an odd number of runs is the same as its median meeting it. The note is the median run's.
 */
export function mergeRuns(tables: ReadonlyArray<readonly Row[]>): MedianRow[] {
  const figures = [...new Set(tables.flatMap((t) => t.map((r) => r.figure)))];
  return figures.map((figure) => {
    const rows = tables.map((t) => t.find((r) => r.figure === figure)).filter((r): r is Row => r !== undefined);
    const mesas = rows.map((r) => r.mesa);
    const limits = rows.map((r) => r.limit);
    const ratios = rows.map((r) => r.ratio);
    const oks = rows.map((r) => r.ok).filter((ok): ok is boolean => ok !== undefined);
    const byValue = [...rows].sort((a, b) => Number(a.ratio ?? a.mesa) - Number(b.ratio ?? b.mesa));
    const middle = byValue[Math.floor((byValue.length - 1) / 2)];
    const merged: MedianRow = {
      figure,
      unit: rows[0].unit,
      target: rows[0].target,
      mesa: numeric(mesas) ? round(median(mesas)) : middle.mesa,
      runs: { mesa: mesas, limit: limits, ratio: ratios },
    };
    if (limits.some((l) => l !== undefined)) merged.limit = numeric(limits) ? round(median(limits)) : middle.limit;
    if (numeric(ratios)) merged.ratio = median(ratios);
    if (oks.length) merged.ok = oks.filter(Boolean).length * 2 > oks.length;
    if (middle.note) merged.note = middle.note;
    return merged;
  });
}

const round = (n: number) => Math.round(n * 10) / 10;

/** The merged table: the medians, then every run's values (the ratios where the figure has one, else Mesa's). */
export function medianTable(rows: readonly MedianRow[]): string {
  const head = ['figure', 'Mesa', 'limit', 'ratio', 'runs', 'target', 'ok'];
  const body = rows.map((r) => {
    const mesaRuns = r.runs.mesa.join(' / ');
    const runs =
      r.ratio === undefined ? `${mesaRuns} ${r.unit}` : `${r.runs.ratio.map(times).join(' / ')} (Mesa ${mesaRuns})`;
    return [
      r.figure,
      withUnit(r.mesa, r.unit),
      r.limit === undefined ? '' : withUnit(r.limit, r.unit),
      times(r.ratio),
      runs,
      r.target,
      yesNo(r.ok),
    ];
  });
  return markdownTable(head, body);
}

/** Flags with a value that the driver sets itself for each run (and so drops from what it was given). */
const DRIVER_FLAGS = new Set(['--runs', '--out', '--compare']);

/** The arguments of run `i`: the driver's own, less --runs/--out/--compare, plus one run and its own JSON file. */
export function runArgs(argv: readonly string[], out: string): string[] {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].split('=')[0];
    if (!DRIVER_FLAGS.has(name)) args.push(argv[i]);
    else if (!argv[i].includes('=')) i++; // its value is the next argument
  }
  return [...args, '--runs', '1', '--out', out];
}

/** Runs `script` (bench.ts) `runs` times in a row, each as its own process, and returns each run's JSON. */
export async function runSeveral(
  script: string,
  argv: readonly string[],
  runs: number,
  outDir: string,
): Promise<Array<{ table: Row[]; meta: Record<string, unknown> }>> {
  const results = [];
  for (let i = 1; i <= runs; i++) {
    const out = path.join(outDir, `bench-run${i}.json`);
    console.error(`mesa bench: corrida ${i} de ${runs} → ${out}`);
    const p = spawn(process.execPath, [...process.execArgv, script, ...runArgs(argv, out)], { stdio: 'inherit' });
    const code = await new Promise<number | null>((resolve) => p.on('exit', resolve));
    if (code !== 0) throw new Error(`la corrida ${i} de ${runs} falló (${code})`);
    results.push(JSON.parse(fs.readFileSync(out, 'utf8')));
  }
  return results;
}
