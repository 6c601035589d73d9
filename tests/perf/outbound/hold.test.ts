import { describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { automaticMail, enqueueIn, holdAppForEachTest, HOLD_NOW } from '../../support/outbox-holds.ts';

/**
 * How many statements the outbox's hold rules cost (tests/integration/outbound/hold.test.ts has what they decide):
 * a budgeted mail asks the database both questions in one statement, and a transaction asks once per address.
 */
const NOW = HOLD_NOW;
const DAY = 86_400_000;
let app: App;
let enqueue: ReturnType<typeof enqueueIn>;

holdAppForEachTest((a) => {
  app = a;
  enqueue = enqueueIn(a);
});

describe('outbox holds: statements', () => {
  it('asks about a budgeted mail in one statement, and about an unbudgeted one in one too', async () => {
    const reads: string[] = [];
    const onQuery = (q: { sql: string }) => {
      if (/^select/i.test(q.sql)) reads.push(q.sql);
    };
    app.db.on('query', onQuery);
    await enqueue(automaticMail('carla@empresa.com'));
    expect(reads).toHaveLength(1);
    expect(reads[0]).toMatch(/mail_suppressions/);
    await enqueue(automaticMail('carla@empresa.com', { budgeted: false }));
    expect(reads).toHaveLength(2);
    app.db.off('query', onQuery);
  });

  it('asks once per transaction whether an address is stopped, and again once a stop is written in it', async () => {
    const reads: string[] = [];
    const onQuery = (q: { sql: string }) => {
      if (/mail_suppressions/.test(q.sql) && /^select/i.test(q.sql)) reads.push(q.sql);
    };
    app.db.on('query', onQuery);
    const { outbox } = app.outbound;
    await app.db.transaction(async (trx) => {
      // A batch (group commit): one mail per savepoint, each with a mail to the same customer.
      for (let i = 0; i < 2; i++)
        await trx.transaction(async (sp) =>
          expect(
            await outbox.enqueue(sp, automaticMail('carla@empresa.com', { budgeted: false, now: NOW + i })),
          ).toMatchObject({ state: 'pending' }),
        );
      expect(await outbox.enqueue(trx, automaticMail('carla@empresa.com', { now: NOW + 3 }))).toMatchObject({
        state: 'pending',
      });
      expect(reads).toHaveLength(1);
      // A time before the one asked about is asked about again.
      expect(
        await outbox.enqueue(trx, automaticMail('carla@empresa.com', { budgeted: false, now: NOW - 1 })),
      ).toMatchObject({ state: 'pending' });
      expect(reads).toHaveLength(2);
      // A bounce in a savepoint of this transaction: the stop counts at once, for this mail and the next ones.
      await trx.transaction((sp) =>
        outbox.suppress(sp, { address: 'carla@empresa.com', reason: 'rebote 5.1.1', until: NOW + DAY, now: NOW }),
      );
      expect(
        await outbox.enqueue(trx, automaticMail('carla@empresa.com', { budgeted: false, now: NOW + 4 })),
      ).toMatchObject({ state: 'held', heldReason: 'rebote: rebote 5.1.1' });
      expect(await outbox.enqueue(trx, automaticMail('carla@empresa.com', { now: NOW + 5 }))).toMatchObject({
        state: 'held',
        heldReason: 'rebote: rebote 5.1.1',
      });
      expect(reads).toHaveLength(4);
    });
    // A stop written in a savepoint that rolled back is gone: the next mail asks and goes.
    await app.db.transaction(async (trx) => {
      await trx('mail_suppressions').del();
      expect(await outbox.enqueue(trx, automaticMail('dario@empresa.com', { budgeted: false }))).toMatchObject({
        state: 'pending',
      });
      await trx
        .transaction(async (sp) => {
          await outbox.suppress(sp, {
            address: 'dario@empresa.com',
            reason: 'rebote 5.1.1',
            until: NOW + DAY,
            now: NOW,
          });
          throw new Error('rollback');
        })
        .catch(() => undefined);
      expect(
        await outbox.enqueue(trx, automaticMail('dario@empresa.com', { budgeted: false, now: NOW + 1 })),
      ).toMatchObject({ state: 'pending' });
    });
    app.db.off('query', onQuery);
    expect(reads).toHaveLength(6);
  });
});
