import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mail } from '../../support/mail.ts';
import { pgpMimeMail, smimeMail } from '../../support/protected-mail.ts';
import { waitFor } from '../../support/wait.ts';
import { mailboxWorld, type MailboxWorld } from '../../support/worlds.ts';

/**
 * A customer whose mail client encrypts (S/MIME, OpenPGP) writes to the desk, which holds no private key: the case
 * opens with the encrypted part kept, and its message says why it has no text, to the consultant, on the page and
 * in the customer's own confirmation. Through the real path: a real Dovecot and the IMAP poller, the notices through
 * a real SMTP server, the case page from the real web server.
 */
let w: MailboxWorld;
let dir: string;

beforeAll(async () => {
  w = await mailboxWorld();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-smime-'));
});

afterAll(async () => {
  await w?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const SMIME_NOTE = '[Mensaje cifrado con S/MIME: no se puede leer aquí.';

describe('a mail its sender encrypted or signed opaquely', () => {
  it('opens a case that says it came encrypted, the encrypted file kept, to everyone who reads it', async () => {
    const entity = 'Content-Type: text/plain; charset=utf-8\r\n\r\nLa factura 1043 no cuadra con el pedido.\r\n';
    const raw = smimeMail(dir, 'encrypt', entity, {
      subject: 'Factura 1043',
      messageId: 'smime-1@cliente.co',
    });
    await w.dovecot.append('support', raw);
    const row = await waitFor('el buzón entrega el correo', () =>
      w.app.db('ingest_ledger').where({ message_id: 'smime-1@cliente.co' }).first(),
    );
    expect(row.effect).toBe('new_case');
    const message = await w.app.db('messages').where({ id: row.message_row_id }).first();
    expect(message.body_text).toMatch(/^\[Mensaje cifrado con S\/MIME: no se puede leer aquí\./);
    expect(await w.app.db('attachments').where({ message_id: row.message_row_id }).pluck('filename')).toEqual([
      'smime.p7m',
    ]);

    const [toAna] = await w.sink.waitFor((m) => m.to === 'ana@mesa.test' && m.subject.includes('Factura 1043'));
    expect(toAna.text).toContain(SMIME_NOTE);
    expect(toAna.parsed.attachments.map((a) => a.filename)).toEqual(['smime.p7m']);

    const [confirmation] = await w.sink.waitFor(
      (m) => m.to === 'pedro@cliente.co' && m.subject.includes('Factura 1043'),
    );
    expect(confirmation.text).toContain('para atenderlo hace falta el texto sin cifrar');
    const link = /http:\/\/127\.0\.0\.1:\d+\/caso\/[^\s"<>]+/.exec(confirmation.text)![0];
    const page = await (await fetch(link)).text();
    expect(page).toContain('Mensaje cifrado con S/MIME');
    expect(page).toContain('smime.p7m');
  });

  it("says so for an OpenPGP mail that continues a case, in the consultant's follow-up notice", async () => {
    const first = mail(
      {
        From: 'Lucía <lucia@cliente.co>',
        To: 'soporte@mesa.test',
        Subject: 'No carga el inventario',
        'Message-ID': '<pgp-first@cliente.co>',
      },
      'El inventario no carga desde ayer.',
    );
    await w.dovecot.append('support', first);
    const opened = await waitFor('el caso se abre', () =>
      w.app.db('ingest_ledger').where({ message_id: 'pgp-first@cliente.co' }).first(),
    );
    const ticket = await w.app.db('tickets').where({ id: opened.ticket_id }).first();
    const followUp = pgpMimeMail({
      from: 'lucia@cliente.co',
      subject: `Re: [Caso #${ticket.number}] No carga el inventario`,
      messageId: 'pgp-second@cliente.co',
      inReplyTo: 'pgp-first@cliente.co',
    });
    await w.dovecot.append('support', followUp);
    const row = await waitFor('el seguimiento entra', () =>
      w.app.db('ingest_ledger').where({ message_id: 'pgp-second@cliente.co' }).first(),
    );
    expect(row.effect).toBe('follow_up');
    expect(row.ticket_id).toBe(opened.ticket_id);
    const [notice] = await w.sink.waitFor(
      (m) => m.to === 'ana@mesa.test' && m.text.includes('[Mensaje cifrado con OpenPGP: no se puede leer aquí.'),
    );
    expect(notice.subject).toContain(`[Caso #${ticket.number}]`);
  });

  it('opens a case with the text and files inside an opaque S/MIME signature', async () => {
    const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n');
    const entity = [
      'Content-Type: multipart/mixed; boundary="in"',
      '',
      '--in',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'El cierre de mes se queda en 90 %. Adjunto la captura.',
      '--in',
      'Content-Type: application/pdf; name="cierre.pdf"',
      'Content-Disposition: attachment; filename="cierre.pdf"',
      'Content-Transfer-Encoding: base64',
      '',
      pdf.toString('base64'),
      '--in--',
      '',
    ].join('\r\n');
    await w.dovecot.append(
      'support',
      smimeMail(dir, 'sign', entity, { subject: 'Cierre de mes', messageId: 'smime-signed@cliente.co' }),
    );
    const row = await waitFor('el buzón entrega el correo', () =>
      w.app.db('ingest_ledger').where({ message_id: 'smime-signed@cliente.co' }).first(),
    );
    expect(row.effect).toBe('new_case');
    const message = await w.app.db('messages').where({ id: row.message_row_id }).first();
    expect(message.body_text).toBe('El cierre de mes se queda en 90 %. Adjunto la captura.');
    const [toAna] = await w.sink.waitFor((m) => m.to === 'ana@mesa.test' && m.subject.includes('Cierre de mes'));
    expect(toAna.text).toContain('El cierre de mes se queda en 90 %.');
    expect(toAna.parsed.attachments.map((a) => a.filename)).toEqual(['cierre.pdf']);
    expect(toAna.parsed.attachments[0].content.equals(pdf)).toBe(true);
  });
});
