import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMail } from '../../../src/inbound/parse.ts';
import { BlobStore } from '../../../src/storage/blobs.ts';
import { tnefStream, uncompressedRtf } from '../../support/tnef.ts';

/** A mail as Outlook sends one to a recipient it takes for another Outlook: a text part (or none) and winmail.dat. */
function outlookMail(p: { text?: string; winmail: Buffer; type?: string; name?: string }): Buffer {
  const lines = [
    'From: "Núñez, Pedro" <pedro@cliente.co>',
    'To: soporte@mesa.test',
    'Subject: Cotización',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b"',
    '',
  ];
  if (p.text !== undefined) lines.push('--b', 'Content-Type: text/plain; charset=utf-8', '', p.text);
  lines.push(
    '--b',
    `Content-Type: ${p.type ?? 'application/ms-tnef'}; name="${p.name ?? 'winmail.dat'}"`,
    `Content-Disposition: attachment; filename="${p.name ?? 'winmail.dat'}"`,
    'Content-Transfer-Encoding: base64',
    '',
    p.winmail.toString('base64').replace(/.{76}/g, '$&\r\n'),
    '--b--',
    '',
  );
  return Buffer.from(lines.join('\r\n'));
}

const pdf = Buffer.from('%PDF-1.4\n');
const files = [
  { title: 'COTIZA~1.PDF', longName: 'Cotización 2026.pdf', mime: 'application/pdf', data: pdf },
  { title: 'FOTO.PNG', data: Buffer.from('\x89PNG', 'latin1') },
];

describe('parseMail with a winmail.dat', () => {
  it('replaces it by the files inside, with their names and types', async () => {
    const m = await parseMail(outlookMail({ text: 'Adjunto la cotización.', winmail: tnefStream({ files }) }));
    expect(m.text.trim()).toBe('Adjunto la cotización.');
    expect(m.attachments.map((a) => [a.filename, a.contentType, a.size])).toEqual([
      ['Cotización 2026.pdf', 'application/pdf', pdf.length],
      ['FOTO.PNG', 'image/png', 4], // no MIME tag in the TNEF: the type its name says
    ]);
    expect(m.attachments[0].content?.equals(pdf)).toBe(true);
  });

  it('writes the files into the blob store when parsing with one', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-tnef-'));
    try {
      const store = new BlobStore(dir);
      const m = await parseMail(
        outlookMail({ text: 'Adjunto.', winmail: tnefStream({ files }) }),
        {},
        undefined,
        store,
      );
      expect(m.attachments[0].content).toBeUndefined();
      expect((await store.get(m.attachments[0].sha256!)).equals(pdf)).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('opens one a gateway relabelled application/octet-stream, by its name', async () => {
    const m = await parseMail(
      outlookMail({
        text: 'Adjunto.',
        type: 'application/octet-stream',
        name: 'WINMAIL.DAT',
        winmail: tnefStream({ files }),
      }),
    );
    expect(m.attachments.map((a) => a.filename)).toEqual(['Cotización 2026.pdf', 'FOTO.PNG']);
  });

  it('takes the body from it when the mail has no text part', async () => {
    const m = await parseMail(outlookMail({ winmail: tnefStream({ body: 'No puedo facturar desde ayer.', files }) }));
    expect(m.text.trim()).toBe('No puedo facturar desde ayer.');
    expect(m.visibleText).toContain('No puedo facturar');
    expect(m.attachments.map((a) => a.filename)).toEqual(['Cotización 2026.pdf', 'FOTO.PNG']);
    const html = await parseMail(outlookMail({ winmail: tnefStream({ html: '<p>Sin <b>acceso</b></p>' }) }));
    expect(html.text.trim()).toBe('Sin acceso');
    expect(html.attachments).toEqual([]);
  });

  it('takes the body from its RTF when that is all the mail has (Outlook in rich text)', async () => {
    const rtf = uncompressedRtf(
      String.raw`{\rtf1\ansi\ansicpg1252{\fonttbl{\f0 Calibri;}}\f0 No puedo facturar desde ayer.\par Adjunto la cotizaci\'f3n.\par}`,
    );
    const m = await parseMail(outlookMail({ winmail: tnefStream({ rtf, files }) }));
    expect(m.text).toBe('No puedo facturar desde ayer.\nAdjunto la cotización.');
    expect(m.visibleText).toContain('Adjunto la cotización');
    expect(m.questionTerms?.length).toBeGreaterThan(0);
    // Everything it carried is read: the winmail.dat itself is not kept.
    expect(m.attachments.map((a) => a.filename)).toEqual(['Cotización 2026.pdf', 'FOTO.PNG']);
    // The mail's own text part wins over the RTF, as over a TNEF text body.
    const both = await parseMail(outlookMail({ text: 'Texto del correo', winmail: tnefStream({ rtf, files }) }));
    expect(both.text.trim()).toBe('Texto del correo');
  });

  it('keeps the winmail.dat when its files do not hold everything the mail said', async () => {
    // No text part and no body in it: the original stays beside the files.
    const noBody = await parseMail(outlookMail({ winmail: tnefStream({ files }) }));
    expect(noBody.attachments.map((a) => a.filename)).toEqual(['Cotización 2026.pdf', 'FOTO.PNG', 'winmail.dat']);
    // An RTF body that cannot be read (a damaged stream): the same.
    const damaged = uncompressedRtf('{\\rtf1 hola}');
    damaged.writeUInt32LE(0x7fffffff, 0);
    const unreadable = await parseMail(outlookMail({ winmail: tnefStream({ rtf: damaged, files }) }));
    expect(unreadable.text.trim()).toBe('');
    expect(unreadable.attachments.map((a) => a.filename)).toEqual(['Cotización 2026.pdf', 'FOTO.PNG', 'winmail.dat']);
    // No files in it: it stays as it came.
    const empty = await parseMail(outlookMail({ text: 'Hola', winmail: tnefStream({}) }));
    expect(empty.attachments.map((a) => [a.filename, a.contentType])).toEqual([['winmail.dat', 'application/ms-tnef']]);
  });

  it('keeps a part that claims to be TNEF and is not, or is broken, as it came', async () => {
    const fake = await parseMail(outlookMail({ text: 'Hola', winmail: Buffer.from('MZ no soy TNEF') }));
    expect(fake.attachments.map((a) => a.filename)).toEqual(['winmail.dat']);
    const whole = tnefStream({ files });
    // Cut inside the second file: what was read, and the original beside it.
    const cut = await parseMail(outlookMail({ text: 'Hola', winmail: whole.subarray(0, whole.length - 60) }));
    expect(cut.attachments.map((a) => a.filename)).toEqual(['Cotización 2026.pdf', 'winmail.dat']);
  });

  it('opens a message attached inside it for its own files', async () => {
    const inner = tnefStream({ files: [{ title: 'ACTA.PDF', longName: 'acta firmada.pdf', data: pdf }] });
    const outer = tnefStream({ files: [{ title: 'Untitled Attachment', data: inner, asObject: true }] });
    const m = await parseMail(outlookMail({ text: 'Reenvío el correo con el acta.', winmail: outer }));
    expect(m.attachments.map((a) => a.filename)).toEqual(['acta firmada.pdf']);
  });

  it('keeps what a message attached inside it said, as a text file named by its subject', async () => {
    const rtf = uncompressedRtf(
      String.raw`{\rtf1\ansi\ansicpg1252 Quedamos en migrar el lunes.\par Saludos, Luc\'eda\par}`,
    );
    const inner = tnefStream({
      subject: 'RE: Acta de la reunión',
      rtf,
      files: [{ title: 'ACTA.PDF', longName: 'acta firmada.pdf', data: pdf }],
    });
    const outer = tnefStream({ files: [{ title: 'Untitled Attachment', data: inner, asObject: true }] });
    const m = await parseMail(outlookMail({ text: 'Reenvío el correo con el acta.', winmail: outer }));
    expect(m.attachments.map((a) => [a.filename, a.contentType])).toEqual([
      ['RE: Acta de la reunión.txt', 'text/plain'],
      ['acta firmada.pdf', 'application/pdf'],
    ]);
    expect(m.attachments[0].content?.toString('utf8')).toBe('Quedamos en migrar el lunes.\nSaludos, Lucía');
    // Only a text, no files, and no subject: named by its attachment title.
    const textOnly = tnefStream({
      files: [{ title: 'Reenviado', data: tnefStream({ body: 'Hola' }), asObject: true }],
    });
    const t = await parseMail(outlookMail({ text: 'Va reenviado.', winmail: textOnly }));
    expect(t.attachments.map((a) => a.filename)).toEqual(['Reenviado.txt']);
    expect(t.attachments[0].content?.toString('utf8')).toBe('Hola');
  });

  it('cleans the names it carries like any other attachment name', async () => {
    const m = await parseMail(
      outlookMail({
        text: 'Adjunto.',
        winmail: tnefStream({ files: [{ title: 'X', longName: 'C:\\Users\\pedro\\factura\u202Efdp.exe', data: pdf }] }),
      }),
    );
    expect(m.attachments.map((a) => a.filename)).toEqual(['facturafdp.exe']);
  });
});
