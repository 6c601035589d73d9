import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compareTables } from './compare.ts';

/** One figure of the bench's table: Mesa's value, the limit it is compared with (if any) and their ratio. */
export interface Row {
  figure: string;
  mesa: number | string;
  limit?: number | string;
  ratio?: number;
  target: string;
  ok?: boolean;
  unit: string;
  note?: string;
}

/** The table of one run, as `npm run bench` prints it. */
export function runTable(rows: readonly Row[]): string {
  const head = ['figure', 'Mesa', 'limit', 'ratio', 'target', 'ok'];
  const body = rows.map((r) => [
    r.figure,
    withUnit(r.mesa, r.unit),
    r.limit === undefined ? '' : withUnit(r.limit, r.unit),
    times(r.ratio),
    r.target,
    yesNo(r.ok),
  ]);
  return markdownTable(head, body);
}

export const withUnit = (v: number | string, unit: string): string => `${v} ${unit}`;
export const times = (ratio: number | undefined): string => (ratio === undefined ? '' : `${ratio.toFixed(2)}×`);
export const yesNo = (ok: boolean | undefined): string => (ok === undefined ? '' : ok ? 'yes' : 'NO');

/** The machine and what ran, under each table. */
export function machineLine(database: 'postgresql' | 'sqlite', runtime: 'bundle' | 'tsx'): string {
  return `${os.cpus().length} CPU (${os.cpus()[0]?.model ?? '?'}), Node ${process.versions.node}, ${database === 'postgresql' ? 'PostgreSQL' : 'SQLite'}; measured processes: ${runtime === 'bundle' ? 'the build (scripts/build.mjs), as `mesa start` runs' : 'tsx (BENCH_RUNTIME=tsx: not what `mesa start` runs)'}`;
}

/** --compare: this run's figures beside an earlier run's (its JSON), with the change. */
export function comparisonTable(file: string, rows: readonly Row[]): string | undefined {
  let before: { table?: Row[]; meta?: { date?: string } };
  try {
    before = JSON.parse(fs.readFileSync(path.resolve(process.cwd(), file), 'utf8'));
  } catch (err) {
    console.error(`--compare: no se pudo leer ${file}: ${(err as Error).message}`);
    return undefined;
  }
  const cmp = compareTables(before.table ?? [], rows);
  const head = ['figure', `before (${before.meta?.date?.slice(0, 10) ?? file})`, 'now', 'change'];
  return markdownTable(
    head,
    cmp.map((c) => [c.figure, c.before, c.now, c.change]),
  );
}

/** A Markdown table with its columns padded to their widest cell (as the README shows it). */
export function markdownTable(head: string[], body: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}
