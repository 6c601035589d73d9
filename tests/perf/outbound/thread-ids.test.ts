import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { testApp } from '../../support/app.ts';
import { rawMail } from '../../integration/outbound/fixtures.ts';
import { onStatements } from '../../../src/db/storage.ts';
import { valuesInserted } from '../../support/statements.ts';

/**
 * How many INSERTs thread_ids costs (tests/integration/outbound/thread-ids.test.ts has what is recorded): a change
 * to a case records its own mail's Message-IDs and those of the mail it causes with one INSERT.
 */
let app: App;
beforeEach(async () => {
  app = await testApp();
});
afterEach(async () => {
  await app.close();
});

describe('thread ids of our mail: statements', () => {
  it("records a new case's own Message-ID, its confirmation and every consultant notice, in one INSERT", async () => {
    const inserts: unknown[][] = [];
    const onQuery = (q: { sql: string; bindings: readonly unknown[] }) => {
      const values = valuesInserted('thread_ids', q.sql, q.bindings);
      if (values) inserts.push(values);
    };
    const stopListening = onStatements(app.db, onQuery);
    const r = await app.ingest.ingest(
      rawMail({
        from: 'carla@empresa.com',
        subject: 'No puedo facturar',
        body: 'Sale el error E42.',
        messageId: 'e42@empresa.com',
      }),
      { kind: 'file', path: 't.eml' },
    );
    stopListening();
    expect(r).toMatchObject({ outcome: 'accepted' });
    const mail = await app.db('outbox').orderBy('id').select('message_id', 'recipient', 'ticket_id');
    expect(mail.map((m) => m.recipient)).toEqual(['carla@empresa.com', 'ana@mesa.test', 'beto@mesa.test']);
    const ids = (await app.db('thread_ids').where({ ticket_id: mail[0].ticket_id }).select('message_id')).map(
      (t) => t.message_id,
    );
    expect(ids.sort()).toEqual(['e42@empresa.com', ...mail.map((m) => m.message_id)].sort());
    expect(inserts).toHaveLength(1);
    expect(inserts[0]).toEqual(expect.arrayContaining(['e42@empresa.com', ...mail.map((m) => m.message_id)]));
  });

  it("records a follow-up's Message-ID, its references and the consultants' notices, in one INSERT", async () => {
    await app.ingest.ingest(
      rawMail({
        from: 'carla@empresa.com',
        subject: 'No puedo facturar',
        body: 'Sale el error E42.',
        messageId: 'e42@empresa.com',
      }),
      { kind: 'file', path: 'a.eml' },
    );
    const opened = await app.db('outbox').max({ id: 'id' }).first();
    const inserts: unknown[][] = [];
    const onQuery = (q: { sql: string; bindings: readonly unknown[] }) => {
      const values = valuesInserted('thread_ids', q.sql, q.bindings);
      if (values) inserts.push(values);
    };
    const stopListening = onStatements(app.db, onQuery);
    const r = await app.ingest.ingest(
      rawMail({
        from: 'carla@empresa.com',
        subject: 'Re: [Caso #1] No puedo facturar',
        body: 'Ahora sale E43.',
        messageId: 'e43@empresa.com',
        inReplyTo: 'e42@empresa.com',
        references: ['e42@empresa.com', 'otro@empresa.com'],
      }),
      { kind: 'file', path: 'b.eml' },
    );
    stopListening();
    expect(r).toMatchObject({ outcome: 'accepted', effect: 'follow_up', ticketNumber: 1 });
    const notices = (await app.db('outbox').where('id', '>', Number(opened!.id)).select('message_id')).map(
      (m) => m.message_id,
    );
    expect(notices.length).toBeGreaterThan(0);
    expect(inserts).toHaveLength(1);
    expect(inserts[0]).toEqual(expect.arrayContaining(['e43@empresa.com', 'otro@empresa.com', ...notices]));
    const ids = (await app.db('thread_ids').select('message_id')).map((t) => t.message_id);
    expect(ids).toEqual(expect.arrayContaining(['e42@empresa.com', 'e43@empresa.com', 'otro@empresa.com', ...notices]));
  });
});
