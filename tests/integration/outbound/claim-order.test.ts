import { afterEach, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { claimDue } from '../../../src/db/repos/outbox.ts';
import { testApp } from '../../support/app.ts';
import { openCustomerCases } from './fixtures.ts';

/**
 * Which mail a dispatcher's claim takes first (src/db/repos/outbox-claim.ts): mail another dispatcher claimed and
 * never recorded, once its claim ran out, then pending mail by the time it fell due. Read in that order through the
 * indexes, so that a claim during a burst of thousands does not read and sort all of them.
 */
let app: App;
afterEach(async () => app?.close());

it('claims what waited longest: a claim that ran out, then pending mail in the order it fell due', async () => {
  app = await testApp();
  await openCustomerCases(app, 2);
  const ids = (await app.db('outbox').orderBy('id').select('id')).map((r) => Number(r.id));
  expect(ids).toHaveLength(6);
  const now = Date.now();
  await app.db('outbox').update({ next_attempt_at: now - 60_000 });
  // The first mail failed once and its retry fell due later than the others.
  await app
    .db('outbox')
    .where({ id: ids[0] })
    .update({ next_attempt_at: now - 1_000, attempts: 1 });
  // The last one was claimed by a dispatcher on another machine whose claim ran out without a record.
  await app
    .db('outbox')
    .where({ id: ids[5] })
    .update({ state: 'sending', claimed_by: 'otra-maquina:4242:1.x', lease_until: now - 5_000, attempts: 1 });
  const first = await claimDue(app.db, { now, limit: 2, owner: 'prueba', leaseMs: 60_000 });
  expect(first.due.map((r) => r.id)).toEqual([ids[5], ids[1]]);
  const rest = await claimDue(app.db, { now, limit: 10, owner: 'prueba', leaseMs: 60_000 });
  expect(rest.due.map((r) => r.id)).toEqual([ids[2], ids[3], ids[4], ids[0]]);
  expect(rest.due.every((r) => r.state === 'sending' && r.claimedBy === 'prueba')).toBe(true);
});
