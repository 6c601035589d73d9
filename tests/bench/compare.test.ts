import { describe, expect, it } from 'vitest';
import { compareTables } from './compare.ts';

describe('bench --compare', () => {
  it('compares figures measured against a limit by their ratio, the others by value, and marks new figures', () => {
    const before = [
      { figure: 'ingest (mails/s)', mesa: 583, limit: 1712, ratio: 0.35, unit: 'mails/s' },
      { figure: 'start-up', mesa: 628, unit: 'ms' },
    ];
    const now = [
      { figure: 'ingest (mails/s)', mesa: 471.4, limit: 1199.1, ratio: 0.42, unit: 'mails/s' },
      { figure: 'start-up', mesa: 711, unit: 'ms' },
      { figure: 'latency p99', mesa: 900, unit: 'ms' },
    ];
    expect(compareTables(before, now)).toEqual([
      // Fewer mails per second than before, but against a slower limit: the ratio went up 20 %.
      { figure: 'ingest (mails/s)', before: '0.35×', now: '0.42×', change: '+20 %' },
      { figure: 'start-up', before: '628 ms', now: '711 ms', change: '+13 %' },
      { figure: 'latency p99', before: '—', now: '900 ms', change: '' },
    ]);
  });
});
