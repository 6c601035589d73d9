import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { insertLink } from '../../../src/db/repos/links.ts';
import { linkGenerationsIn, threadRows } from '../../../src/db/repos/outbox-budget.ts';
import { addParticipants } from '../../../src/db/repos/participants.ts';
import { addThreadIds } from '../../../src/db/repos/thread-ids.ts';
import { lockTicketViewsByThreadIds } from '../../../src/db/repos/thread-views.ts';
import { inUnitOfWork } from '../../../src/db/unit-of-work.ts';
import { onStatements } from '../../../src/db/storage.ts';
import { testApp } from '../../support/app.ts';
import { bareCase } from '../../support/bare-case.ts';
import { tablesInserted } from '../../support/statements.ts';

/**
 * The reads an ingest batch runs for each reply (the thread look-up, a notice's thread and link) add what an earlier
 * mail of the same batch left waiting from memory: they find it without writing the batch's rows in the middle of
 * the batch (src/db/repos/thread-views.ts, outbox-budget.ts).
 */
let app: App;
afterEach(async () => app?.close());

describe('the thread reads of a batch, over rows still waiting', () => {
  it("finds a case by a thread id, its people and a recipient's link generation still waiting, writing none", async () => {
    app = await testApp();
    const ticketId = await bareCase(app, 1, 'carla@empresa.com');
    const inserts: string[] = [];
    const stop = onStatements(app.db, (s) => {
      if (tablesInserted(s.sql).length) inserts.push(s.sql);
    });
    const seen = await inUnitOfWork(app.db, async (uow) => {
      uow.gather();
      await addThreadIds(uow, ticketId, ['primero@empresa.com']);
      await addParticipants(uow, ticketId, [{ address: 'luis@empresa.com', role: 'cc', addedBy: 'requester' }], 5, {
        newCase: true,
      });
      await insertLink(uow, {
        ticketId,
        recipient: 'luis@empresa.com',
        generation: 3,
        tokenHash: 'h'.repeat(64),
        expiresAt: 9_000,
        now: 5,
      });
      const found = await lockTicketViewsByThreadIds(uow, ['otro@empresa.com', 'primero@empresa.com']);
      const thread = await threadRows(uow, ticketId, 'luis@empresa.com', 4, true);
      // Still waiting: neither read wrote the batch's rows.
      const waiting = ['thread_ids', 'participants', 'links'].map((t) => uow.laterRows(t).length);
      return { found, generations: linkGenerationsIn(thread), waiting };
    });
    stop();
    expect(seen.found.views.map((v) => v.id)).toEqual([ticketId]);
    expect(seen.found.views[0].participants).toEqual([{ address: 'luis@empresa.com', role: 'cc' }]);
    expect(seen.generations).toEqual([{ generation: 3, expiresAt: 9_000, revokedAt: undefined }]);
    expect(seen.waiting).toEqual([1, 1, 1]);
    // Written once, at the end of the unit: one INSERT per table, after both reads.
    expect(inserts.flatMap(tablesInserted).sort()).toEqual(['links', 'participants', 'thread_ids']);
    // And found the same way once committed.
    const after = await inUnitOfWork(app.db, (uow) => lockTicketViewsByThreadIds(uow, ['primero@empresa.com']));
    expect(after.views.map((v) => v.participants)).toEqual([[{ address: 'luis@empresa.com', role: 'cc' }]]);
  });

  it('finds a case once when its thread id is both in the table and waiting again', async () => {
    app = await testApp();
    const ticketId = await bareCase(app, 1, 'carla@empresa.com');
    await inUnitOfWork(app.db, (uow) => addThreadIds(uow, ticketId, ['dos@empresa.com']));
    const views = await inUnitOfWork(app.db, async (uow) => {
      uow.gather();
      await addThreadIds(uow, ticketId, ['dos@empresa.com']);
      return (await lockTicketViewsByThreadIds(uow, ['dos@empresa.com'])).views;
    });
    expect(views.map((v) => v.id)).toEqual([ticketId]);
  });
});
