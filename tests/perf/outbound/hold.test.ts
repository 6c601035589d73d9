import { describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { inUnitOfWork } from '../../../src/db/unit-of-work.ts';
import { onStatements } from '../../../src/db/storage.ts';
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
    const stopListening = onStatements(app.db, onQuery);
    await enqueue(automaticMail('carla@empresa.com'));
    expect(reads).toHaveLength(1);
    expect(reads[0]).toMatch(/mail_suppressions/);
    await enqueue(automaticMail('carla@empresa.com', { budgeted: false }));
    expect(reads).toHaveLength(2);
    stopListening();
  });

  it('asks once per transaction whether an address is stopped, and again once a stop is written in it', async () => {
    const reads: string[] = [];
    const onQuery = (q: { sql: string }) => {
      if (/mail_suppressions/.test(q.sql) && /^select/i.test(q.sql)) reads.push(q.sql);
    };
    const stopListening = onStatements(app.db, onQuery);
    const { outbox } = app.outbound;
    await inUnitOfWork(app.db, async (trx) => {
      // A batch (group commit): one mail per savepoint, each with a mail to the same customer.
      for (let i = 0; i < 2; i++)
        await trx.savepoint(async (sp) =>
          expect(
            await outbox.enqueue(sp, automaticMail('carla@empresa.com', { budgeted: false, now: NOW + i })),
          ).toMatchObject({
            state: 'pending',
          }),
        );
      expect(await outbox.enqueue(trx, automaticMail('carla@empresa.com', { now: NOW + 3 }))).toMatchObject({
        state: 'pending',
      });
      expect(reads).toHaveLength(1);
      // A time before the one asked about is asked about again.
      expect(
        await outbox.enqueue(trx, automaticMail('carla@empresa.com', { budgeted: false, now: NOW - 1 })),
      ).toMatchObject({
        state: 'pending',
      });
      expect(reads).toHaveLength(2);
      // A bounce in a savepoint of this transaction: the stop counts at once, for this mail and the next ones.
      await trx.savepoint((sp) =>
        outbox.suppress(sp, { address: 'carla@empresa.com', reason: 'rebote 5.1.1', until: NOW + DAY, now: NOW }),
      );
      expect(
        await outbox.enqueue(trx, automaticMail('carla@empresa.com', { budgeted: false, now: NOW + 4 })),
      ).toMatchObject({
        state: 'held',
        heldReason: 'rebote: rebote 5.1.1',
      });
      expect(await outbox.enqueue(trx, automaticMail('carla@empresa.com', { now: NOW + 5 }))).toMatchObject({
        state: 'held',
        heldReason: 'rebote: rebote 5.1.1',
      });
      expect(reads).toHaveLength(4);
    });
    // A stop written in a savepoint that rolled back is gone, and so is what it told the unit of work (its memo dies
    // with the savepoint): the next mail goes, without asking again what the unit of work asked before.
    await inUnitOfWork(app.db, async (trx) => {
      await trx.trx('mail_suppressions').del();
      expect(await outbox.enqueue(trx, automaticMail('dario@empresa.com', { budgeted: false }))).toMatchObject({
        state: 'pending',
      });
      await trx
        .savepoint(async (sp) => {
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
      ).toMatchObject({
        state: 'pending',
      });
    });
    stopListening();
    expect(reads).toHaveLength(5);
  });
});
