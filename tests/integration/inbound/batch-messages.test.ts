import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { expectNewRows } from '../../../src/db/repos/ids-ahead.ts';
import { findMessage, lastCustomerMessage } from '../../../src/db/repos/messages.ts';
import { attachmentsOf, insertMessage, messagesOf } from '../../../src/db/repos/tickets.ts';
import type { UnitOfWork } from '../../../src/db/unit-of-work.ts';
import { KnowledgeService } from '../../../src/services/knowledge.ts';
import { inUnitOfWork } from '../../../src/db/unit-of-work.ts';
import { testApp } from '../../support/app.ts';
import { imapSource, rowCount } from '../../support/ingest-batches.ts';
import { mail, mailWithAttachment } from '../../support/mail.ts';

/**
 * The messages of an ingest batch (on PostgreSQL they wait for the batch's flush under ids taken ahead,
 * src/db/repos/ids-ahead.ts): what the batch's later mails read of them, and ids that never collide.
 */

let app: App;
afterEach(async () => app?.close());

const customer = (id: string, subject: string, body: string, extra: Record<string, string> = {}) =>
  mail({ From: 'Juan <juan@cliente.co>', To: 'soporte@mesa.test', Subject: subject, 'Message-ID': id, ...extra }, body);

/** The References of the mail queued for `kind` to `to`, in the order queued. */
async function referencesOf(a: App, kind: string, to: string): Promise<string[][]> {
  const rows = await a.db('outbox').where({ kind, recipient: to }).orderBy('id').select('mail_json');
  return rows.map((r) => JSON.parse(r.mail_json).references as string[]);
}

describe('the messages of an ingest batch', () => {
  it("threads the second mail's notice on the first's Message-ID when both come in one batch", async () => {
    app = await testApp();
    const results = await app.ingest.ingestMany([
      { raw: customer('<t1@cliente.co>', 'No imprime', 'La impresora no imprime.'), source: imapSource(1) },
      {
        raw: customer('<t2@cliente.co>', 'RE: [Caso #1] No imprime', 'Sigue sin imprimir.'),
        source: imapSource(2),
      },
    ]);
    expect(results.map((r) => [r.outcome, r.effect, r.ticketNumber])).toEqual([
      ['accepted', 'new_case', 1],
      ['accepted', 'follow_up', 1],
    ]);
    // The consultant's notice of the reply starts its References with the case's first mail, which the same
    // batch wrote a moment before (still waiting to be written when the notice was threaded).
    const [followUp] = await referencesOf(app, 'consultant_follow_up', 'ana@mesa.test');
    expect(followUp[0]).toBe('<t1@cliente.co>');
  });

  it("threads a reply on its own Message-ID, still waiting, when the case's earlier mail had none", async () => {
    app = await testApp();
    const first = mail(
      { From: 'Juan <juan@cliente.co>', To: 'soporte@mesa.test', Subject: 'No imprime' },
      'La impresora no imprime.',
    );
    await app.ingest.ingestMany([{ raw: first, source: imapSource(1) }]);
    const results = await app.ingest.ingestMany([
      { raw: customer('<s2@cliente.co>', 'RE: [Caso #1] No imprime', 'Sigue sin imprimir.'), source: imapSource(2) },
    ]);
    expect(results.map((r) => [r.outcome, r.effect, r.ticketNumber])).toEqual([['accepted', 'follow_up', 1]]);
    // The case's first message with a Message-ID is the reply itself: the notice's References start with it.
    const [followUp] = await referencesOf(app, 'consultant_follow_up', 'ana@mesa.test');
    expect(followUp[0]).toBe('<s2@cliente.co>');
  });

  it('lets each reader of messages in the unit see a message still waiting for the flush', async () => {
    app = await testApp();
    await app.ingest.ingestMany([{ raw: customer('<v1@cliente.co>', 'Uno', 'primero'), source: imapSource(1) }]);
    const [t] = await app.db('tickets').select('id', 'subject');
    // Each read in a unit of its own, as a batch's (gathering, expecting a message), right after the message.
    const after = <T>(
      read: (uow: UnitOfWork, id: number) => Promise<T>,
      role: 'customer' | 'consultant' = 'customer',
    ) =>
      inUnitOfWork(app.db, async (uow) => {
        uow.gather();
        expectNewRows(uow, 1);
        const id = await insertMessage(uow, {
          ticketId: t.id,
          role,
          source: 'mail',
          fromAddress: 'juan@cliente.co',
          messageId: 'w@cliente.co',
          bodyText: 'el que espera la impresora',
          internal: false,
          verified: true,
          createdAt: Date.now(),
          attachments: [
            { filename: 'f.pdf', contentType: 'application/pdf', size: 3, sha256: 'a'.repeat(64), inline: false },
          ],
        });
        return read(uow, id);
      });
    expect(await after(async (uow, id) => (await findMessage(uow, id))?.body_text)).toBe('el que espera la impresora');
    expect(await after(async (uow) => (await lastCustomerMessage(uow, t.id))?.body_text)).toBe(
      'el que espera la impresora',
    );
    expect(await after(async (uow) => (await messagesOf(uow, t.id)).at(-1)?.body_text)).toBe(
      'el que espera la impresora',
    );
    expect(await after(async (uow, id) => (await attachmentsOf(uow, [id])).map((a) => a.filename))).toEqual(['f.pdf']);
    // A case closed by a consultant's mail of the batch is indexed with that answer.
    const knowledge = new KnowledgeService({ db: app.db });
    await after((uow) => knowledge.indexSolvedCase(uow, { ...t, product: undefined } as never), 'consultant');
    const [doc] = await app.db('search_docs').where({ ticket_id: t.id, kind: 'case' }).select('stemmed');
    expect(String(doc.stemmed)).toMatch(/impres/);
  });

  it('keeps a mail whose UTF-16 text has a lone surrogate, with U+FFFD in its place, and the batch around it', async () => {
    app = await testApp();
    // A code unit 0xD800 with no pair: decoded as is, a JavaScript string no JSON or UTF-8 can carry unchanged.
    const utf16 = Buffer.concat([
      Buffer.from('Hola ', 'utf16le'),
      Buffer.from([0x00, 0xd8]),
      Buffer.from(' mundo', 'utf16le'),
    ]);
    const odd = [
      'From: Juan <juan@cliente.co>',
      'To: soporte@mesa.test',
      'Subject: Texto raro',
      'Message-ID: <u16@cliente.co>',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-16le',
      'Content-Transfer-Encoding: base64',
      '',
      utf16.toString('base64'),
      '',
    ].join('\r\n');
    const results = await app.ingest.ingestMany([
      { raw: customer('<a1@cliente.co>', 'Antes', 'Primero.'), source: imapSource(1) },
      { raw: Buffer.from(odd), source: imapSource(2) },
      { raw: customer('<a3@cliente.co>', 'Después', 'Tercero.'), source: imapSource(3) },
    ]);
    expect(results.map((r) => [r.outcome, r.effect])).toEqual([
      ['accepted', 'new_case'],
      ['accepted', 'new_case'],
      ['accepted', 'new_case'],
    ]);
    const [message] = await messagesOf(
      app.db,
      (await app.db('tickets').where({ number: results[1].ticketNumber }).first()).id,
    );
    expect(message.body_text).toBe('Hola \ufffd mundo');
  });

  it("keeps an automatic reply's note cut inside an emoji at its 20 000 characters, in the batch with the others", async () => {
    app = await testApp();
    const [opened] = await app.ingest.ingestMany([
      { raw: customer('<n1@cliente.co>', 'No imprime', 'La impresora no imprime.'), source: imapSource(1) },
    ]);
    // The note keeps the text's first 20 000 UTF-16 code units: the 20 000th is the first half of 😀.
    const away = customer(
      '<n2@cliente.co>',
      `Re: [Caso #${opened.ticketNumber}] No imprime`,
      `${'f'.repeat(19_999)}😀 fin`,
      {
        'Auto-Submitted': 'auto-replied',
      },
    );
    const results = await app.ingest.ingestMany([
      { raw: away, source: imapSource(2) },
      { raw: customer('<n3@cliente.co>', 'Otro problema', 'Tampoco escanea.'), source: imapSource(3) },
    ]);
    expect(results.map((r) => [r.outcome, r.effect])).toEqual([
      ['accepted', 'system_note'],
      ['accepted', 'new_case'],
    ]);
    const ticket = await app.db('tickets').where({ number: opened.ticketNumber }).first();
    const note = (await messagesOf(app.db, ticket.id)).find((m) => m.role === 'system');
    // The cut leaves no half character: the emoji whose first half was the 20 000th goes whole.
    expect(note.body_text).toBe('f'.repeat(19_999));
  });

  it('gives every message its own id across batches and a message written between them, files on the right one', async () => {
    app = await testApp();
    const withFile = (i: number) =>
      mailWithAttachment(
        { From: `p${i}@org${i}.co`, To: 'soporte@mesa.test', Subject: `Caso ${i}`, 'Message-ID': `<f${i}@x>` },
        `texto ${i}`,
        { filename: `archivo${i}.pdf`, content: Buffer.from(`%PDF-1.4 ${i}`) },
      );
    await app.ingest.ingestMany([1, 2, 3].map((i) => ({ raw: withFile(i), source: imapSource(i) })));
    // Outside a batch (the status page, a job): written at once, its id from the same sequence.
    const [first] = await app.db('tickets').orderBy('id').select('id');
    const between = await inUnitOfWork(app.db, (uow) =>
      insertMessage(uow, {
        ticketId: first.id,
        role: 'customer',
        source: 'web',
        bodyText: 'desde la página del caso',
        internal: false,
        verified: true,
        createdAt: Date.now(),
        attachments: [],
      }),
    );
    await app.ingest.ingestMany([4, 5].map((i) => ({ raw: withFile(i), source: imapSource(i) })));
    const rows = await app
      .db('messages')
      .leftJoin('attachments', 'attachments.message_id', 'messages.id')
      .orderBy('messages.id')
      .select('messages.id', 'messages.body_text', 'attachments.filename');
    expect(rows.map((r) => [r.body_text, r.filename])).toEqual([
      ['texto 1', 'archivo1.pdf'],
      ['texto 2', 'archivo2.pdf'],
      ['texto 3', 'archivo3.pdf'],
      ['desde la página del caso', null],
      ['texto 4', 'archivo4.pdf'],
      ['texto 5', 'archivo5.pdf'],
    ]);
    expect(rows[3].id).toBe(between);
    // The ledger names each mail's own message row.
    const ledger = await app.db('ingest_ledger').orderBy('uid').select('message_row_id');
    expect(ledger.map((l) => Number(l.message_row_id))).toEqual([0, 1, 2, 4, 5].map((i) => Number(rows[i].id)));
  });

  it('lets the mail after a rolled-back one (careful rerun) use the ids it left, with its own files', async () => {
    app = await testApp();
    app.cases.addNotifier({
      onCaseEvent: async (_trx, e) => {
        if (e.type === 'case_opened' && e.ticket.subject.includes('rompe')) throw new Error('fallo de prueba');
      },
    });
    const mk = (i: number, subject: string) =>
      mailWithAttachment(
        { From: `p${i}@org${i}.co`, To: 'soporte@mesa.test', Subject: subject, 'Message-ID': `<r${i}@x>` },
        `texto ${i}`,
        { filename: `archivo${i}.pdf`, content: Buffer.from(`%PDF-1.4 ${i}`) },
      );
    const results = await app.ingest.ingestMany([
      { raw: mk(1, 'Uno'), source: imapSource(1) },
      { raw: mk(2, 'Esto rompe'), source: imapSource(2) },
      { raw: mk(3, 'Tres'), source: imapSource(3) },
    ]);
    expect(results.map((r) => r.outcome)).toEqual(['accepted', 'rejected', 'accepted']);
    const rows = await app
      .db('messages')
      .join('attachments', 'attachments.message_id', 'messages.id')
      .orderBy('messages.id')
      .select('messages.body_text', 'attachments.filename');
    expect(rows).toEqual([
      { body_text: 'texto 1', filename: 'archivo1.pdf' },
      { body_text: 'texto 3', filename: 'archivo3.pdf' },
    ]);
    expect(await rowCount(app, 'attachments')).toBe(2);
  });
});
