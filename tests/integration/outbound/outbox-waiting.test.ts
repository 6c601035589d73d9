import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import {
  countRecentOfKinds,
  insertOutbox,
  letOutboxWait,
  listOutbox,
  loopBudgetOf,
  threadOf,
} from '../../../src/db/repos/outbox.ts';
import { insertTicket } from '../../../src/db/repos/tickets.ts';
import { inUnitOfWork, type UnitOfWork } from '../../../src/db/unit-of-work.ts';
import { onPostgres, testApp } from '../../support/app.ts';
import { imapSource, savepointsOf } from '../../support/ingest-batches.ts';
import { mail, storedMailTo } from '../../support/mail.ts';

/**
 * The ingest batch's outbox rows wait for its flush (letOutboxWait): every reader of the outbox inside the unit
 * (the loop budget, the desk's alert limit, a case's thread) must answer as if they had been written, and an
 * idempotency key the table already has must still enqueue nothing (the batch runs again carefully).
 */
let app: App;
afterEach(async () => app?.close());

const NOW = Date.UTC(2026, 11, 6, 12);
const TO = 'cliente@empresa.com';
const stored = storedMailTo(TO);

/** What the outbox's readers answer about TO and case `ticketId` in `uow`. */
async function readers(uow: UnitOfWork, ticketId: number) {
  return {
    budget: await loopBudgetOf(uow, TO, NOW - 10 * 60_000, NOW - 86_400_000, NOW),
    alerts: await countRecentOfKinds(uow, TO, ['notice_commands'], NOW - 3_600_000),
    // Times as numbers: PostgreSQL gives a bigint read from the table as a string (the thread sorts by Number()).
    thread: (await threadOf(uow, ticketId, TO, 4)).ours.map((r) => [r.message_id, Number(r.created_at)]),
  };
}

describe('outbox rows that wait for the batch', () => {
  it('are seen by the budget, the alert limit and the thread as if written; a repeated key enqueues nothing', async () => {
    app = await testApp();
    const ticket = await insertTicket(app.db, {
      number: 1,
      subject: 'Prueba',
      requester: TO,
      organization: 'empresa.com',
      priority: 'media',
      stage: 'abierto',
      waitingOn: 'soporte',
      openedProven: true,
      now: NOW,
    });
    const row = (i: number, over: { kind?: string; state?: 'pending' | 'held'; at?: number; to?: string } = {}) => ({
      idempotencyKey: `k${i}`,
      ticketId: ticket.id,
      kind: over.kind ?? 'confirmation',
      recipient: over.to ?? TO,
      automatic: true,
      messageId: `m${i}@mesa.test`,
      mail: stored,
      state: over.state ?? 'pending',
      now: over.at ?? NOW - i * 1000,
    });
    // Already in the table: two mails, one of them held.
    await insertOutbox(app.db, row(1));
    await insertOutbox(app.db, row(2, { state: 'held' }));
    const during = await inUnitOfWork(app.db, async (uow) => {
      uow.gather();
      letOutboxWait(uow);
      const got = [
        await insertOutbox(uow, row(3)),
        await insertOutbox(uow, row(4, { kind: 'notice_commands' })),
        await insertOutbox(uow, row(5, { state: 'held' })),
        await insertOutbox(uow, row(6, { at: NOW - 20 * 60_000 })),
        await insertOutbox(uow, row(7, { to: 'otro@empresa.com' })),
        await insertOutbox(uow, row(8)),
      ];
      // The same event again, in the same batch: found among the rows waiting.
      got.push(await insertOutbox(uow, row(8)));
      expect(got).toEqual(['waiting', 'waiting', 'waiting', 'waiting', 'waiting', 'waiting', undefined]);
      expect(uow.laterRows('outbox')).toHaveLength(6);
      const read = await readers(uow, ticket.id);
      // Added from memory, not written first: a flush per new case would cost the round trips the waiting saves.
      expect(uow.laterRows('outbox')).toHaveLength(6);
      return read;
    });
    const after = await inUnitOfWork(app.db, (uow) => readers(uow, ticket.id));
    expect(during).toEqual(after);
    expect(during.budget).toMatchObject({ inWindow: 4, inDay: 5 });
    expect(during.alerts).toBe(1);
    expect(during.thread.map((r) => r[0])).toEqual(['m8@mesa.test', 'm6@mesa.test', 'm4@mesa.test', 'm3@mesa.test']);
  });

  it('knows the keys it enqueued after a flush, and forgets those of a savepoint rolled back', async () => {
    app = await testApp();
    const row = (key: string) => ({
      idempotencyKey: key,
      kind: 'confirmation',
      recipient: TO,
      automatic: true,
      messageId: `${key}@mesa.test`,
      mail: stored,
      state: 'pending' as const,
      now: NOW,
    });
    await inUnitOfWork(app.db, async (uow) => {
      uow.gather();
      letOutboxWait(uow);
      expect(await insertOutbox(uow, row('flushed'))).toBe('waiting');
      await uow.flush();
      // Written already: asked again in the same batch, it enqueues nothing (and the flush is not refused).
      expect(await insertOutbox(uow, row('flushed'))).toBeUndefined();
      await expect(
        uow.savepoint(async (child) => {
          expect(await insertOutbox(child, row('undone'))).toBe('waiting');
          throw new Error('el correo de este savepoint falla');
        }),
      ).rejects.toThrow('falla');
      // Rolled back with its savepoint: a later event enqueues it.
      expect(await insertOutbox(uow, row('undone'))).toBe('waiting');
    });
    expect((await listOutbox(app.db)).map((r) => r.messageId).sort()).toEqual([
      'flushed@mesa.test',
      'undone@mesa.test',
    ]);
  });

  it('holds automatic mail to one address past the budget within one batch', async () => {
    app = await testApp({ AUTO_MAIL_LIMIT_WINDOW: '3' });
    const savepoints = savepointsOf(app);
    const results = await app.ingest.ingestMany(
      [1, 2, 3, 4, 5].map((i) => ({
        raw: mail(
          { From: TO, To: 'soporte@mesa.test', Subject: `Consulta ${i}`, 'Message-ID': `<c${i}@empresa.com>` },
          `Pregunta número ${i}.`,
        ),
        source: imapSource(i),
      })),
    );
    expect(results.map((r) => r.effect)).toEqual(Array(5).fill('new_case'));
    // One run of the batch, without savepoints: the rows waited for its flush.
    expect(savepoints()).toBe(0);
    const toCustomer = (await listOutbox(app.db)).filter((r) => r.recipient === TO).reverse();
    expect(toCustomer.map((r) => [r.kind, r.state, r.heldReason])).toEqual([
      ['confirmation', 'pending', undefined],
      ['confirmation', 'pending', undefined],
      ['confirmation', 'pending', undefined],
      ['confirmation', 'held', 'limite: 3 en 10 min'],
      ['confirmation', 'held', 'limite: 3 en 10 min'],
    ]);
  });

  it('runs the batch again carefully when the outbox already has a key, and enqueues that mail once', async () => {
    app = await testApp();
    // The confirmation the case of id 1 will ask for, already there (as another instance would have left it).
    const KEY = `case:1:opened:confirmation:${TO}`;
    await insertOutbox(app.db, {
      idempotencyKey: KEY,
      kind: 'confirmation',
      recipient: TO,
      automatic: true,
      messageId: 'antes@mesa.test',
      mail: stored,
      state: 'pending',
      now: NOW,
    });
    const savepoints = savepointsOf(app);
    const results = await app.ingest.ingestMany([
      {
        raw: mail({ From: TO, To: 'soporte@mesa.test', Subject: 'Uno', 'Message-ID': '<u1@empresa.com>' }, 'uno'),
        source: imapSource(1),
      },
      {
        raw: mail({ From: 'otra@org.co', To: 'soporte@mesa.test', Subject: 'Dos', 'Message-ID': '<u2@org.co>' }, 'dos'),
        source: imapSource(2),
      },
    ]);
    expect(results.map((r) => [r.effect, r.ticketNumber])).toEqual([
      ['new_case', 1],
      ['new_case', 2],
    ]);
    // The first run's flush was refused; the careful run wrote each mail in its savepoint.
    expect(savepoints()).toBe(2);
    // One row under that key, the one that was there; every case got one confirmation. (On PostgreSQL the careful
    // run's cases take new ids, the sequences not being rolled back: there the key does not come up again.)
    const rows = await listOutbox(app.db);
    expect(rows.filter((r) => r.idempotencyKey === KEY).map((r) => r.messageId)).toEqual(['antes@mesa.test']);
    const confirmations = rows.filter((r) => r.kind === 'confirmation' && r.ticketId !== undefined);
    expect(new Set(confirmations.map((r) => r.ticketId)).size).toBe(confirmations.length);
    expect(confirmations.map((r) => r.recipient).sort()).toEqual(onPostgres ? [TO, 'otra@org.co'] : ['otra@org.co']);
  });
});
