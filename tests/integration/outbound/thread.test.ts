import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import type { Db } from '../../../src/db/knex.ts';
import { insertOutbox, threadOf } from '../../../src/db/repos/outbox.ts';
import { insertMessage, insertTicket } from '../../../src/db/repos/tickets.ts';
import { testApp } from '../../support/app.ts';
import { storedMailTo } from '../../support/mail.ts';

/**
 * Threading a mail on a case reads the case's first Message-ID, the recipient's latest messages and our latest
 * mail to them. threadOf reads all three in one statement (sqlprof: three per follow-up mail); the reads it
 * replaced are kept here and must give the same rows, limits, order and held mail left out included.
 */
const NOW = Date.UTC(2026, 10, 23, 12);
const TO = 'ana@mesa.test';
let app: App;
beforeEach(async () => {
  app = await testApp();
});
afterEach(async () => {
  await app.close();
});

async function threeReads(db: Db, ticketId: number, to: string) {
  const root = await db('messages')
    .where({ ticket_id: ticketId })
    .whereNotNull('message_id')
    .orderBy('id')
    .first('message_id');
  const theirs = await db('messages')
    .where({ ticket_id: ticketId, from_address: to })
    .whereNotNull('message_id')
    .orderBy('id', 'desc')
    .limit(4)
    .select('message_id', 'created_at');
  const ours = await db('outbox')
    .where({ ticket_id: ticketId, recipient: to })
    .whereNot({ state: 'held' })
    .orderBy('id', 'desc')
    .limit(4)
    .select('message_id', 'created_at');
  return { root: root?.message_id, theirs, ours };
}

const stored = { ...storedMailTo(TO), html: '', text: '' };

describe('threadOf', () => {
  it('reads what the three separate reads did, for an empty and for a busy case', async () => {
    const ticket = await insertTicket(app.db, {
      number: 9,
      subject: 'Prueba',
      requester: 'carla@empresa.com',
      organization: 'empresa.com',
      priority: 'media',
      stage: 'abierto',
      waitingOn: 'soporte',
      openedProven: true,
      now: NOW,
    });
    const other = await insertTicket(app.db, {
      number: 10,
      subject: 'Otro',
      requester: 'carla@empresa.com',
      organization: 'empresa.com',
      priority: 'media',
      stage: 'abierto',
      waitingOn: 'soporte',
      openedProven: true,
      now: NOW,
    });
    expect(await threadOf(app.db, ticket.id, TO, 4)).toEqual({ root: undefined, theirs: [], ours: [] });

    const message = (ticketId: number, from: string, messageId: string | undefined, at: number) =>
      insertMessage(app.db, {
        ticketId,
        role: from === TO ? 'consultant' : 'customer',
        source: 'mail',
        fromAddress: from,
        messageId,
        bodyText: 'x',
        internal: false,
        verified: true,
        createdAt: at,
        attachments: [],
      });
    const ours = (ticketId: number, key: string, state: 'pending' | 'held', at: number) =>
      insertOutbox(app.db, {
        idempotencyKey: key,
        ticketId,
        kind: 'k',
        recipient: TO,
        automatic: true,
        messageId: `${key}@mesa.test`,
        mail: stored,
        state,
        now: at,
      });
    // A first message without a Message-ID, then the customer's; several from the recipient (same times, more
    // than the limit), some without an id; our mail to them, some held; and another case's rows, all left out.
    await message(ticket.id, 'carla@empresa.com', undefined, NOW);
    await message(ticket.id, 'carla@empresa.com', 'root@empresa.com', NOW + 1);
    for (let i = 0; i < 7; i++)
      await message(ticket.id, TO, i % 3 === 2 ? undefined : `ana-${i}@mesa.test`, NOW + 10 + (i >> 1));
    for (let i = 0; i < 7; i++) await ours(ticket.id, `our-${i}`, i === 5 ? 'held' : 'pending', NOW + 10 + (i >> 1));
    await message(other.id, TO, 'elsewhere@mesa.test', NOW + 50);
    await ours(other.id, 'elsewhere', 'pending', NOW + 50);

    const got = await threadOf(app.db, ticket.id, TO, 4);
    const expected = await threeReads(app.db, ticket.id, TO);
    expect(got).toEqual(expected);
    expect(got.root).toBe('root@empresa.com');
    expect(got.theirs.map((r) => r.message_id)).toEqual([
      'ana-6@mesa.test',
      'ana-4@mesa.test',
      'ana-3@mesa.test',
      'ana-1@mesa.test',
    ]);
    expect(got.ours.map((r) => r.message_id)).toEqual([
      'our-6@mesa.test',
      'our-4@mesa.test',
      'our-3@mesa.test',
      'our-2@mesa.test',
    ]);
    // Another recipient: only the root.
    expect(await threadOf(app.db, ticket.id, 'beto@mesa.test', 4)).toEqual({
      root: 'root@empresa.com',
      theirs: [],
      ours: [],
    });
  });
});
