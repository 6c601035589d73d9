import { afterEach, beforeEach } from 'vitest';
import type { App } from '../../src/app.ts';
import { inUnitOfWork } from '../../src/db/unit-of-work.ts';
import type { MailRequest } from '../../src/outbound/outbox.ts';
import { testApp } from './app.ts';

/**
 * What the outbox hold tests share (tests/integration/outbound/hold.test.ts says what the rules decide,
 * tests/perf/outbound/hold.test.ts what they cost): the per-recipient limits they count against, and the mail.
 */

export const HOLD_NOW = Date.UTC(2026, 10, 23, 12);

/** Three automatic mails to one address in ten minutes, five a day. */
export const HOLD_LIMITS = { AUTO_MAIL_LIMIT_WINDOW: '3', AUTO_MAIL_WINDOW_MINUTES: '10', AUTO_MAIL_LIMIT_DAY: '5' };

let n = 0;
/** A refusal-like mail (not on a case), automatic unless told otherwise. */
export const automaticMail = (
  to: string,
  p: { budgeted?: boolean; now?: number; automatic?: boolean } = {},
): MailRequest => ({
  key: `test:${++n}`,
  kind: 'refusal_other',
  to,
  automatic: p.automatic ?? true,
  budgeted: p.budgeted ?? true,
  autoSubmitted: 'auto-replied',
  template: 'refusal',
  pick: { reason: 'reasons.other' },
  data: { subject: 'Hola', limit: '', openCases: [] },
  subject: 'Re: Hola',
  now: p.now ?? HOLD_NOW,
});

/** Enqueues one mail in a transaction of its own. */
export const enqueueIn = (app: App) => (r: MailRequest) =>
  inUnitOfWork(app.db, (trx) => app.outbound.outbox.enqueue(trx, r));

/** A fresh app with HOLD_LIMITS for every test of the file, handed to `use`; closed after the test. */
export function holdAppForEachTest(use: (app: App) => void): void {
  let app: App | undefined;
  beforeEach(async () => {
    app = await testApp(HOLD_LIMITS);
    use(app);
  });
  afterEach(async () => {
    await app?.close();
  });
}
