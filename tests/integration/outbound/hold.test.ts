import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { suppress } from '../../../src/db/repos/outbox.ts';
import type { MailRequest } from '../../../src/outbound/outbox.ts';
import { testApp } from '../../support/app.ts';
import { inUnitOfWork } from '../../../src/db/unit-of-work.ts';

/**
 * The outbox's hold rules, one mail at a time: a bounce stop holds automatic mail (budgeted or not) while it
 * lasts, the per-recipient limits hold budgeted mail. A budgeted mail asks the database both questions in one
 * statement (sqlprof: a look-up for the stop, another for the counts).
 */
const NOW = Date.UTC(2026, 10, 23, 12);
const MINUTE = 60_000;
const DAY = 86_400_000;
let app: App;

beforeEach(async () => {
  app = await testApp({ AUTO_MAIL_LIMIT_WINDOW: '3', AUTO_MAIL_WINDOW_MINUTES: '10', AUTO_MAIL_LIMIT_DAY: '5' });
});
afterEach(async () => {
  await app.close();
});

let n = 0;
/** A refusal-like mail (not on a case), automatic. */
const mail = (to: string, p: { budgeted?: boolean; now?: number; automatic?: boolean } = {}): MailRequest => ({
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
  now: p.now ?? NOW,
});
const enqueue = (r: MailRequest) => inUnitOfWork(app.db, (trx) => app.outbound.outbox.enqueue(trx, r));

describe('outbox holds', () => {
  it('holds automatic mail to a hard-bounced address while the stop lasts, though nothing was sent to it lately', async () => {
    await suppress(app.db, {
      address: 'nadie@empresa.com',
      reason: 'rebote 5.1.1',
      until: NOW + DAY,
      now: NOW - MINUTE,
    });
    expect(await enqueue(mail('Nadie@empresa.com'))).toMatchObject({
      state: 'held',
      heldReason: 'rebote: rebote 5.1.1',
    });
    expect(await enqueue(mail('nadie@empresa.com', { budgeted: false }))).toMatchObject({
      state: 'held',
      heldReason: 'rebote: rebote 5.1.1',
    });
    // A person's words (not automatic) are never held; nor is automatic mail once the stop ran out.
    expect(await enqueue(mail('nadie@empresa.com', { automatic: false }))).toMatchObject({ state: 'pending' });
    expect(await enqueue(mail('nadie@empresa.com', { now: NOW + DAY }))).toMatchObject({ state: 'pending' });
    expect(await enqueue(mail('nadie@empresa.com', { now: NOW + DAY, budgeted: false }))).toMatchObject({
      state: 'pending',
    });
  });

  it('holds budgeted mail over the window and the day limits, counting automatic mail that was not held', async () => {
    const to = 'robot@empresa.com';
    for (let i = 0; i < 3; i++) expect(await enqueue(mail(to, { now: NOW + i }))).toMatchObject({ state: 'pending' });
    expect(await enqueue(mail(to, { now: NOW + 3 }))).toMatchObject({
      state: 'held',
      heldReason: 'limite: 3 en 10 min',
    });
    // Unbudgeted automatic mail is not held by the limits, but it counts for them.
    expect(await enqueue(mail(to, { now: NOW + 4, budgeted: false }))).toMatchObject({ state: 'pending' });
    // Out of the window, 4 today (the held one not counted): one more goes, then the day's limit of 5 holds.
    expect(await enqueue(mail(to, { now: NOW + 11 * MINUTE }))).toMatchObject({ state: 'pending' });
    expect(await enqueue(mail(to, { now: NOW + 22 * MINUTE }))).toMatchObject({
      state: 'held',
      heldReason: 'limite: 5 al dia',
    });
    expect(await enqueue(mail(to, { now: NOW + DAY + 22 * MINUTE }))).toMatchObject({ state: 'pending' });
  });
});
