import { describe, expect, it, vi } from 'vitest';
import SummaryReporter from './summary-reporter.ts';

/** The closing line CI and people read: it must not say "0 failed" when tests could not run. */
function lineFor(files: unknown[]): string {
  const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    new SummaryReporter().onFinished(files as never);
    return String(write.mock.calls.at(-1)?.[0]).trim();
  } finally {
    write.mockRestore();
  }
}

const test = (state: string) => ({ type: 'test', mode: state === 'skip' ? 'skip' : 'run', result: { state } });

describe('the summary line', () => {
  it('counts passed and failed tests', () => {
    expect(lineFor([{ type: 'suite', result: { state: 'fail' }, tasks: [test('pass'), test('fail')] }])).toBe(
      '1 passed, 1 failed',
    );
  });

  it('counts the tests of a file whose beforeAll failed (no Dovecot, no Chromium) as failed, not skipped', () => {
    // What vitest reports then: the file failed, its suite and tests marked skip.
    const file = {
      type: 'suite',
      result: { state: 'fail' },
      tasks: [{ type: 'suite', mode: 'skip', result: { state: 'skip' }, tasks: [test('skip'), test('skip')] }],
    };
    expect(lineFor([file, { type: 'suite', result: { state: 'pass' }, tasks: [test('pass')] }])).toBe(
      '1 passed, 2 failed',
    );
  });

  it('counts a file that failed to load, with no tests at all', () => {
    expect(lineFor([{ type: 'suite', result: { state: 'fail' }, tasks: [] }])).toBe('0 passed, 1 failed');
  });
});
