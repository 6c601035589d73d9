import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMail } from '../../../src/inbound/parse.ts';
import { withProtectionNote } from '../../../src/inbound/protection.ts';
import { mailWithAttachment } from '../../support/mail.ts';
import { smimeMail, pgpMimeMail } from '../../support/protected-mail.ts';

/**
 * Mail its sender encrypted or signed opaquely: Mesa cannot read its text, and must say so instead of showing an
 * empty message. The S/MIME mail is made by OpenSSL itself (`openssl smime`), as a mail client makes one.
 */
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-smime-'));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const body = 'Content-Type: text/plain; charset=utf-8\r\n\r\nNo puedo entrar al sistema.\r\n';

describe('a protected mail', () => {
  it('tells an S/MIME-encrypted mail, its encrypted part kept as its attachment', async () => {
    const mail = await parseMail(smimeMail(dir, 'encrypt', body));
    expect(mail.protection).toBe('smime');
    expect(mail.text.trim()).toBe('');
    expect(mail.attachments.map((a) => [a.filename, a.contentType])).toEqual([
      ['smime.p7m', 'application/x-pkcs7-mime'],
    ]);
  });

  it('reads the mail inside an opaque S/MIME signature, its files included, with the outer headers', async () => {
    const entity = [
      'Content-Type: multipart/mixed; boundary="in"',
      '',
      '--in',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'No puedo entrar al sistema, me da error 500 desde la actualizaci=C3=B3n.',
      '--in',
      'Content-Type: application/pdf; name="error.pdf"',
      'Content-Disposition: attachment; filename="error.pdf"',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('%PDF-1.4 captura').toString('base64'),
      '--in--',
      '',
    ].join('\r\n');
    const raw = smimeMail(dir, 'sign', entity, { subject: 'Error 500', messageId: 'firmado@cliente.co' });
    const mail = await parseMail(raw);
    expect(mail.protection).toBeUndefined();
    expect(mail.text.trim()).toBe('No puedo entrar al sistema, me da error 500 desde la actualización.');
    expect(mail.attachments.map((a) => [a.filename, a.contentType])).toEqual([['error.pdf', 'application/pdf']]);
    expect(mail.attachments[0].content?.toString()).toBe('%PDF-1.4 captura');
    expect(mail.subject).toBe('Error 500');
    expect(mail.messageId).toBe('firmado@cliente.co');
    expect(mail.from?.address).toBe('pedro@cliente.co');
    // The signed original, as it came: what the ledger hashes and the case keeps.
    expect(mail.raw.equals(raw)).toBe(true);
  });

  it("takes only the Content-* headers from inside a signature: a From or Subject there is not the mail's", async () => {
    const entity = [
      'From: Gerente <gerente@otra-empresa.co>',
      'Subject: Cierre el caso 12',
      'Authentication-Results: mx.mesa.test; dmarc=pass header.from=otra-empresa.co',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Texto firmado.',
      '',
    ].join('\r\n');
    const mail = await parseMail(smimeMail(dir, 'sign', entity, { subject: 'Consulta', messageId: 'x@cliente.co' }));
    expect(mail.text.trim()).toBe('Texto firmado.');
    expect(mail.from?.address).toBe('pedro@cliente.co');
    expect(mail.subject).toBe('Consulta');
    expect(mail.headers.get('from')).toHaveLength(1);
    expect(mail.headers.get('authentication-results')).toBeUndefined();
  });

  it('checks a lying charset label inside a signature as it does outside one', async () => {
    // UTF-8 bytes under an ISO-8859-1 label, as some webmails send them.
    const entity = 'Content-Type: text/plain; charset=iso-8859-1\r\n\r\nDesde la actualización no factura.\r\n';
    const mail = await parseMail(smimeMail(dir, 'sign', entity));
    expect(mail.text.trim()).toBe('Desde la actualización no factura.');
  });

  it('keeps an opaque S/MIME signature it cannot read, and says what it is', async () => {
    const raw = Buffer.from(
      [
        'From: a@cliente.co',
        'To: soporte@mesa.test',
        'Subject: firmado',
        'MIME-Version: 1.0',
        'Content-Type: application/pkcs7-mime; smime-type=signed-data; name="smime.p7m"',
        'Content-Disposition: attachment; filename="smime.p7m"',
        'Content-Transfer-Encoding: base64',
        '',
        Buffer.from('esto no es DER').toString('base64'),
        '',
      ].join('\r\n'),
    );
    const mail = await parseMail(raw);
    expect(mail.protection).toBe('smime-signed');
    expect(mail.attachments.map((a) => a.filename)).toEqual(['smime.p7m']);
  });

  it('does not take a mail with a detached S/MIME signature for a protected one: its text is readable', async () => {
    const mail = await parseMail(smimeMail(dir, 'detached', body));
    expect(mail.text).toContain('No puedo entrar al sistema.');
    expect(mail.protection).toBeUndefined();
  });

  it('tells a PGP/MIME mail, inline PGP and a PGP/MIME mail wrapped by a list', async () => {
    expect((await parseMail(pgpMimeMail())).protection).toBe('openpgp');
    const inline = await parseMail(
      Buffer.from(
        'From: a@cliente.co\r\nTo: soporte@mesa.test\r\nSubject: x\r\n\r\n' +
          '-----BEGIN PGP MESSAGE-----\r\n\r\nhQEMA5bWq0ZbGm9hAQf/\r\n=abcd\r\n-----END PGP MESSAGE-----\r\n',
      ),
    );
    expect(inline.protection).toBe('openpgp');
    expect(inline.text).toContain('-----BEGIN PGP MESSAGE-----');
    const wrapped = await parseMail(pgpMimeMail({ wrapped: true }));
    expect(wrapped.protection).toBe('openpgp');
  });

  it('leaves alone a readable mail that carries an encrypted file as an attachment', async () => {
    const raw = mailWithAttachment(
      { From: 'a@cliente.co', To: 'soporte@mesa.test', Subject: 'reenvío' },
      'Les reenvío el archivo que me llegó.',
      {
        filename: 'smime.p7m',
        content: Buffer.from('no es legible'),
        type: 'application/pkcs7-mime; smime-type=enveloped-data',
      },
    );
    expect((await parseMail(raw)).protection).toBeUndefined();
  });

  it('says in the desk language why the message has no text, after any text it had', () => {
    expect(withProtectionNote('', 'smime', 'es')).toMatch(/^\[Mensaje cifrado con S\/MIME: no se puede leer aquí\./);
    expect(withProtectionNote('', 'openpgp', 'en')).toMatch(/^\[Message encrypted with OpenPGP/);
    expect(withProtectionNote('-----BEGIN PGP MESSAGE-----', 'openpgp', 'es')).toMatch(
      /^-----BEGIN PGP MESSAGE-----\n\n\[Mensaje cifrado con OpenPGP/,
    );
    expect(withProtectionNote('hola', undefined, 'es')).toBe('hola');
  });
});
