import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { insertTicket } from '../../../src/db/repos/tickets.ts';
import type { MailRequest } from '../../../src/outbound/outbox.ts';
import { testApp } from '../../support/app.ts';
import { inUnitOfWork } from '../../../src/db/unit-of-work.ts';

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
  it('records the mail enqueued before a failure when the caller carries on', async () => {
    const ticket = await insertTicket(app.db, {
      number: 5,
      subject: 'Prueba',
      requester: 'carla@empresa.com',
      organization: 'empresa.com',
      priority: 'media',
      stage: 'abierto',
      waitingOn: 'soporte',
      openedProven: true,
      now: NOW,
    });
    const request = (to: string): MailRequest => ({
      key: `t:${to}`,
      ticket,
      kind: 'consultant_new_case',
      to,
      automatic: true,
      budgeted: false,
      autoSubmitted: 'auto-generated',
      template: 'consultant-notice',
      pick: { heading: 'headingCommands', intro: 'introCommands', next: 'nextCommands' },
      data: { items: ['x'], commands: [] },
      now: NOW,
    });
    const { outbox } = app.outbound;
    const ids = await inUnitOfWork(app.db, async (trx) => {
      const got: string[] = [];
      await outbox
        .together(trx, async () => {
          got.push((await outbox.enqueue(trx, request('ana@mesa.test'))).messageId);
          got.push((await outbox.enqueue(trx, request('beto@mesa.test'))).messageId);
          throw new Error('plantilla rota');
        })
        .catch((err: Error) => expect(err.message).toBe('plantilla rota'));
      return got;
    });
    const rows = (await app.db('thread_ids').where({ ticket_id: ticket.id }).select('message_id')).map(
      (t) => t.message_id,
    );
    expect(rows.sort()).toEqual([...ids].sort());
  });
});
