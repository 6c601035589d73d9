import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { insertTicket } from '../../../src/db/repos/tickets.ts';
import type { MailRequest } from '../../../src/outbound/outbox.ts';
import { testApp } from '../../support/app.ts';
import { rawMail } from './fixtures.ts';

/**
 * Every Message-ID of our mail on a case goes into thread_ids (a reply quoting it finds the case). A change to a
 * case records its own mail's Message-IDs and those of the mail it causes with one INSERT (sqlprof: one per mail; a
 * new case sends a confirmation and a notice per consultant), also when the handling fails halfway and the caller
 * carries on.
 */
const NOW = Date.UTC(2026, 10, 23, 12);
let app: App;
beforeEach(async () => {
  app = await testApp();
});
afterEach(async () => {
  await app.close();
});

describe('thread ids of our mail', () => {
  it("records a new case's own Message-ID, its confirmation and every consultant notice, in one INSERT", async () => {
    const inserts: unknown[][] = [];
    const onQuery = (q: { sql: string; bindings?: unknown[] }) => {
      if (/^insert into ["`]thread_ids["`]/i.test(q.sql)) inserts.push(q.bindings ?? []);
    };
    app.db.on('query', onQuery);
    const r = await app.ingest.ingest(rawMail({ from: 'carla@empresa.com', subject: 'No puedo facturar', body: 'Sale el error E42.', messageId: 'e42@empresa.com' }), { kind: 'file', path: 't.eml' });
    app.db.off('query', onQuery);
    expect(r).toMatchObject({ outcome: 'accepted' });
    const mail = await app.db('outbox').orderBy('id').select('message_id', 'recipient', 'ticket_id');
    expect(mail.map((m) => m.recipient)).toEqual(['carla@empresa.com', 'ana@mesa.test', 'beto@mesa.test']);
    const ids = (await app.db('thread_ids').where({ ticket_id: mail[0].ticket_id }).select('message_id')).map((t) => t.message_id);
    expect(ids.sort()).toEqual(['e42@empresa.com', ...mail.map((m) => m.message_id)].sort());
    expect(inserts).toHaveLength(1);
    expect(inserts[0]).toEqual(expect.arrayContaining(['e42@empresa.com', ...mail.map((m) => m.message_id)]));
  });

  it("records a follow-up's Message-ID, its references and the consultants' notices, in one INSERT", async () => {
    await app.ingest.ingest(rawMail({ from: 'carla@empresa.com', subject: 'No puedo facturar', body: 'Sale el error E42.', messageId: 'e42@empresa.com' }), { kind: 'file', path: 'a.eml' });
    const opened = await app.db('outbox').max({ id: 'id' }).first();
    const inserts: unknown[][] = [];
    const onQuery = (q: { sql: string; bindings?: unknown[] }) => {
      if (/^insert into ["`]thread_ids["`]/i.test(q.sql)) inserts.push(q.bindings ?? []);
    };
    app.db.on('query', onQuery);
    const r = await app.ingest.ingest(rawMail({
      from: 'carla@empresa.com', subject: 'Re: [Caso #1] No puedo facturar', body: 'Ahora sale E43.', messageId: 'e43@empresa.com',
      inReplyTo: 'e42@empresa.com', references: ['e42@empresa.com', 'otro@empresa.com'],
    }), { kind: 'file', path: 'b.eml' });
    app.db.off('query', onQuery);
    expect(r).toMatchObject({ outcome: 'accepted', effect: 'follow_up', ticketNumber: 1 });
    const notices = (await app.db('outbox').where('id', '>', Number(opened!.id)).select('message_id')).map((m) => m.message_id);
    expect(notices.length).toBeGreaterThan(0);
    expect(inserts).toHaveLength(1);
    expect(inserts[0]).toEqual(expect.arrayContaining(['e43@empresa.com', 'otro@empresa.com', ...notices]));
    const ids = (await app.db('thread_ids').select('message_id')).map((t) => t.message_id);
    expect(ids).toEqual(expect.arrayContaining(['e42@empresa.com', 'e43@empresa.com', 'otro@empresa.com', ...notices]));
  });

  it('records the mail enqueued before a failure when the caller carries on', async () => {
    const ticket = await insertTicket(app.db, { number: 5, subject: 'Prueba', requester: 'carla@empresa.com', organization: 'empresa.com', priority: 'media', stage: 'abierto', waitingOn: 'soporte', now: NOW });
    const request = (to: string): MailRequest => ({
      key: `t:${to}`, ticket, kind: 'consultant_new_case', to, automatic: true, budgeted: false, autoSubmitted: 'auto-generated', template: 'consultant-notice',
      pick: { heading: 'headingCommands', intro: 'introCommands', next: 'nextCommands' }, data: { items: ['x'], commands: [] }, now: NOW,
    });
    const { outbox } = app.outbound;
    const ids = await app.db.transaction(async (trx) => {
      const got: string[] = [];
      await outbox.together(trx, async () => {
        got.push((await outbox.enqueue(trx, request('ana@mesa.test'))).messageId);
        got.push((await outbox.enqueue(trx, request('beto@mesa.test'))).messageId);
        throw new Error('plantilla rota');
      }).catch((err: Error) => expect(err.message).toBe('plantilla rota'));
      return got;
    });
    const rows = (await app.db('thread_ids').where({ ticket_id: ticket.id }).select('message_id')).map((t) => t.message_id);
    expect(rows.sort()).toEqual([...ids].sort());
  });
});
