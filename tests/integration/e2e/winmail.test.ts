import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawMail } from '../outbound/fixtures.ts';
import { tnefStream, uncompressedRtf } from '../../support/tnef.ts';
import { waitFor } from '../../support/wait.ts';
import { mailboxWorld, type MailboxWorld } from '../../support/worlds.ts';

/**
 * Outlook sends a customer's files inside one winmail.dat (TNEF) when it takes the recipient for another Outlook.
 * Through the real path: the mail appended to a real Dovecot and taken by the IMAP poller, the consultant's notice
 * through a real SMTP server, the case page and its downloads from the real web server.
 */
let w: MailboxWorld;

beforeAll(async () => {
  w = await mailboxWorld();
});

afterAll(async () => {
  await w?.close();
});

const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n');
const xlsx = Buffer.from('PK\x03\x04 planilla', 'latin1');

describe('a mail with a winmail.dat', () => {
  it('opens a case whose files are the ones inside it, for the consultant and on the page', async () => {
    const winmail = tnefStream({
      files: [
        { title: 'COTIZA~1.PDF', longName: 'Cotización marzo.pdf', mime: 'application/pdf', data: pdf },
        { title: 'INVENT~1.XLS', longName: 'Inventario sucursal Núñez.xlsx', data: xlsx },
      ],
    });
    const raw = rawMail({
      from: 'pedro@cliente.co',
      subject: 'Cotización que no cuadra',
      body: 'Adjunto la cotización y el inventario.',
      messageId: 'winmail-1@cliente.co',
      attachments: [{ filename: 'winmail.dat', content: winmail, type: 'application/ms-tnef' }],
    });
    await w.dovecot.append('support', raw);
    const row = await waitFor('el buzón entrega el correo', () =>
      w.app.db('ingest_ledger').where({ message_id: 'winmail-1@cliente.co' }).first(),
    );
    expect(row.effect).toBe('new_case');
    const names = ['Cotización marzo.pdf', 'Inventario sucursal Núñez.xlsx'];
    expect(
      await w.app.db('attachments').where({ message_id: row.message_row_id }).orderBy('id').pluck('filename'),
    ).toEqual(names);

    const [toAna] = await w.sink.waitFor(
      (m) => m.to === 'ana@mesa.test' && m.subject.includes('Cotización que no cuadra'),
    );
    expect(toAna.parsed.attachments.map((a) => a.filename)).toEqual(names);
    expect(toAna.parsed.attachments[0].content.equals(pdf)).toBe(true);
    expect(toAna.parsed.attachments[0].contentType).toBe('application/pdf');
    expect(toAna.parsed.attachments[1].content.equals(xlsx)).toBe(true);

    const [confirmation] = await w.sink.waitFor((m) => m.to === 'pedro@cliente.co');
    const link = /http:\/\/127\.0\.0\.1:\d+\/caso\/[^\s"<>]+/.exec(confirmation.text)![0];
    const page = await fetch(link);
    const body = await page.text();
    expect(body).toContain('Cotización marzo.pdf');
    expect(body).not.toContain('winmail.dat');
    const href = new RegExp(`href="([^"]+/adjuntos/\\d+)" download>Cotización marzo\\.pdf<`).exec(body)![1];
    const file = await fetch(new URL(href, link));
    expect(file.status).toBe(200);
    expect(Buffer.from(await file.arrayBuffer()).equals(pdf)).toBe(true);
  });

  it('reads the body of a mail Exchange sent whole as TNEF, in rich text, for the case, the consultant and the page', async () => {
    // Exchange with "send as rich text": the whole message is one application/ms-tnef part; its only body is the
    // compressed RTF inside it.
    const rtf = uncompressedRtf(
      String.raw`{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0\fswiss\fcharset0 Calibri;}}\viewkind4\uc1\pard\f0\fs22 ` +
        String.raw`La conciliaci\'f3n de Bancolombia no carga desde el lunes.\par\par Gracias,\par Pedro N\'fa\'f1ez\par}`,
    );
    const winmail = tnefStream({
      rtf,
      files: [{ title: 'EXTRAC~1.PDF', longName: 'Extracto octubre.pdf', data: pdf }],
    });
    const raw = Buffer.from(
      [
        'From: "Núñez, Pedro" <pedro@cliente.co>',
        'To: soporte@mesa.test',
        'Subject: Conciliación bancaria',
        'Message-ID: <winmail-rtf@cliente.co>',
        'Date: Mon, 07 Dec 2026 09:00:00 -0500',
        'MIME-Version: 1.0',
        'Content-Type: application/ms-tnef; name="winmail.dat"',
        'Content-Disposition: attachment; filename="winmail.dat"',
        'Content-Transfer-Encoding: base64',
        '',
        winmail.toString('base64').replace(/.{76}/g, '$&\r\n'),
        '',
      ].join('\r\n'),
    );
    await w.dovecot.append('support', raw);
    const row = await waitFor('el buzón entrega el correo', () =>
      w.app.db('ingest_ledger').where({ message_id: 'winmail-rtf@cliente.co' }).first(),
    );
    expect(row.effect).toBe('new_case');
    const message = await w.app.db('messages').where({ id: row.message_row_id }).first();
    expect(message.body_text).toBe('La conciliación de Bancolombia no carga desde el lunes.\n\nGracias,\nPedro Núñez');
    expect(
      await w.app.db('attachments').where({ message_id: row.message_row_id }).orderBy('id').pluck('filename'),
    ).toEqual(['Extracto octubre.pdf']);

    const [toAna] = await w.sink.waitFor(
      (m) => m.to === 'ana@mesa.test' && m.subject.includes('Conciliación bancaria'),
    );
    expect(toAna.text).toContain('La conciliación de Bancolombia no carga desde el lunes.');
    const [confirmation] = await w.sink.waitFor(
      (m) => m.to === 'pedro@cliente.co' && m.subject.includes('Conciliación bancaria'),
    );
    const link = /http:\/\/127\.0\.0\.1:\d+\/caso\/[^\s"<>]+/.exec(confirmation.text)![0];
    const page = await (await fetch(link)).text();
    expect(page).toContain('La conciliación de Bancolombia no carga desde el lunes.');
    expect(page).not.toContain('winmail.dat');
  });

  it('gives the consultant and the page what a message forwarded inside it said, as a text file', async () => {
    const inner = tnefStream({
      subject: 'Acuerdo de migración',
      body: 'Confirmamos la migración para el lunes a las 8:00.',
      files: [{ title: 'PLAN.PDF', longName: 'plan de migración.pdf', data: pdf }],
    });
    const raw = rawMail({
      from: 'pedro@cliente.co',
      subject: 'Reenvío el acuerdo',
      body: 'Les reenvío el correo del acuerdo.',
      messageId: 'winmail-embedded@cliente.co',
      attachments: [
        {
          filename: 'winmail.dat',
          content: tnefStream({ files: [{ title: 'Untitled Attachment', data: inner, asObject: true }] }),
          type: 'application/ms-tnef',
        },
      ],
    });
    await w.dovecot.append('support', raw);
    const names = ['Acuerdo de migración.txt', 'plan de migración.pdf'];
    const [toAna] = await w.sink.waitFor((m) => m.to === 'ana@mesa.test' && m.subject.includes('Reenvío el acuerdo'));
    expect(toAna.parsed.attachments.map((a) => a.filename)).toEqual(names);
    expect(toAna.parsed.attachments[0].content.toString('utf8')).toBe(
      'Confirmamos la migración para el lunes a las 8:00.',
    );
    const [confirmation] = await w.sink.waitFor(
      (m) => m.to === 'pedro@cliente.co' && m.subject.includes('Reenvío el acuerdo'),
    );
    const link = /http:\/\/127\.0\.0\.1:\d+\/caso\/[^\s"<>]+/.exec(confirmation.text)![0];
    const page = await (await fetch(link)).text();
    expect(page).toContain('Acuerdo de migración.txt');
    const href = new RegExp(`href="([^"]+/adjuntos/\\d+)" download>Acuerdo de migración\\.txt<`).exec(page)![1];
    const file = await fetch(new URL(href, link));
    expect(await file.text()).toBe('Confirmamos la migración para el lunes a las 8:00.');
  });
});
