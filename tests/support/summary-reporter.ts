import type { Reporter } from 'vitest/reporters';

/**
 * Ends the run with one plain line, "N passed, N failed" (", N skipped"), the closing line CI reads in any
 * language; vitest's own summary is decorated and not recognised there.
 */
type Task = { type: string; result?: { state?: string }; mode?: string; tasks?: Task[] };

export default class SummaryReporter implements Reporter {
  onFinished(files: Task[] = []): void {
    const count = { passed: 0, failed: 0, skipped: 0 };
    // A test that never ran because its file or suite failed (a beforeAll that could not start Dovecot or Chromium)
    // is a failure, not a skip: otherwise a machine without them would end "N passed, 0 failed". vitest marks such
    // tests `skip` like an explicit .skip, which this project does not use.
    const walk = (t: Task, suiteFailed: boolean) => {
      const failed = suiteFailed || (t.type !== 'test' && t.result?.state === 'fail');
      if (t.tasks) t.tasks.forEach((c) => walk(c, failed));
      if (t.type !== 'test') return;
      const state = t.result?.state;
      if (state === 'pass') count.passed++;
      else if (state === 'fail' || failed) count.failed++;
      else count.skipped++;
    };
    files.forEach((f) => walk(f, false));
    // A file that failed to load has no tests but a failed result: count it, so it cannot pass silently.
    count.failed += files.filter((f) => f.result?.state === 'fail' && !(f.tasks ?? []).length).length;
    process.stdout.write(
      `\n${count.passed} passed, ${count.failed} failed${count.skipped ? `, ${count.skipped} skipped` : ''}\n`,
    );
  }
}
