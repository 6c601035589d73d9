import { describe, expect, it } from 'vitest';
import { isStale } from '../../../src/web/server.ts';

const MIN = 60_000;

describe('/healthz mailbox readiness', () => {
  const started = Date.parse('2026-11-23T08:00:00Z');
  it.each([
    ['read a minute ago', started + 10 * MIN - 1 * MIN, 60, started + 10 * MIN, false],
    ['no read for three minutes at a 60 s interval', started + 10 * MIN - 3 * MIN - 1, 60, started + 10 * MIN, true],
    ['no read yet, just started (grace from start-up)', undefined, 60, started + 1 * MIN, false],
    ['never read since start-up four minutes ago', undefined, 60, started + 4 * MIN, true],
    [
      'an old read from before a restart does not count against the new process',
      started - 60 * MIN,
      60,
      started + 2 * MIN,
      false,
    ],
    ['a 5-minute poll interval allows 15 minutes', started + 20 * MIN - 14 * MIN, 300, started + 20 * MIN, false],
  ])('%s', (_name, last, pollSeconds, now, stale) => {
    expect(isStale(last as number | undefined, pollSeconds as number, started, now as number)).toBe(stale);
  });
});
