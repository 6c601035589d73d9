import { describe, expect, it } from 'vitest';
import { median, medianTable, mergeRuns, runArgs } from './median.ts';
import type { Row } from './table.ts';

/** `npm run bench -- --runs 3`: each figure's median over the runs (tests/bench/median.ts). */
describe('bench median of runs', () => {
  it('takes the middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([10, 40, 20, 30])).toBe(25);
    expect(median([])).toBeNaN();
  });

  const run = (ingest: [number, number], notify: [number, number], startup: number, note: string): Row[] => [
    {
      figure: 'ingest (mails/s)',
      mesa: ingest[0],
      limit: ingest[1],
      ratio: ingest[0] / ingest[1],
      target: '≥ 0.6× limit',
      ok: ingest[0] / ingest[1] >= 0.6,
      unit: 'mails/s',
      note,
    },
    {
      figure: 'notify (mails/s)',
      mesa: notify[0],
      limit: notify[1],
      ratio: notify[0] / notify[1],
      target: '≥ 0.7× limit',
      ok: notify[0] / notify[1] >= 0.7,
      unit: 'mails/s',
    },
    { figure: 'start-up', mesa: startup, target: '≤ 1000 ms', ok: startup <= 1000, unit: 'ms' },
  ];

  it('gives each figure the median of Mesa, of the limit and of the ratio, each taken over the runs on its own', () => {
    const merged = mergeRuns([
      run([600, 1000], [70, 100], 700, 'a'),
      run([550, 1100], [80, 100], 1200, 'b'),
      run([700, 1000], [60, 100], 900, 'c'),
    ]);
    expect(merged.map((r) => r.figure)).toEqual(['ingest (mails/s)', 'notify (mails/s)', 'start-up']);
    const [ingest, notify, startup] = merged;
    // Ratios 0.6, 0.5, 0.7: the median ratio is the first run's, while the median Mesa (600) and limit (1000) come
    // from other runs; the ratio is not recomputed from them.
    expect(ingest).toMatchObject({ mesa: 600, limit: 1000, ratio: 0.6, ok: true, note: 'a' });
    expect(ingest.runs).toEqual({ mesa: [600, 550, 700], limit: [1000, 1100, 1000], ratio: [0.6, 0.5, 0.7] });
    expect(notify).toMatchObject({ mesa: 70, limit: 100, ratio: 0.7, ok: true });
    // Two of three start-ups under a second: the median (900 ms) meets the target, as most runs did.
    expect(startup).toMatchObject({ mesa: 900, ok: true, unit: 'ms' });
    expect(startup.limit).toBeUndefined();
    expect(startup.ratio).toBeUndefined();
  });

  it('fails a target most runs missed, and keeps a figure only some runs measured', () => {
    const merged = mergeRuns([
      run([500, 1000], [70, 100], 700, 'a'),
      run([700, 1000], [60, 100], 800, 'b'),
      run([550, 1000], [65, 100], 900, 'c').slice(0, 2),
    ]);
    expect(merged[0]).toMatchObject({ ratio: 0.55, ok: false, note: 'c' });
    expect(merged[1]).toMatchObject({ ratio: 0.65, ok: false });
    expect(merged[2]).toMatchObject({ mesa: 750, runs: { mesa: [700, 800] } });
  });

  it("prints the medians beside every run's values", () => {
    const table = medianTable(
      mergeRuns([
        run([600, 1000], [70, 100], 700, 'a'),
        run([550, 1100], [80, 100], 1200, 'b'),
        run([700, 1000], [60, 100], 900, 'c'),
      ]),
    );
    const lines = table.split('\n');
    expect(lines[0]).toMatch(/^\| figure +\| Mesa +\| limit +\| ratio +\| runs +\| target +\| ok +\|$/);
    expect(lines[2]).toContain('| 600 mails/s ');
    expect(lines[2]).toContain('| 0.60× / 0.50× / 0.70× (Mesa 600 / 550 / 700) ');
    expect(lines[4]).toContain('| 700 / 1200 / 900 ms ');
  });

  it("runs each time with the driver's flags, less its own, and its own JSON file", () => {
    expect(
      runArgs(
        ['--only', 'ingest', '--runs', '3', '--out=x.json', '--warm', '200', '--compare', 'old.json'],
        '/tmp/run2.json',
      ),
    ).toEqual(['--only', 'ingest', '--warm', '200', '--runs', '1', '--out', '/tmp/run2.json']);
  });
});
