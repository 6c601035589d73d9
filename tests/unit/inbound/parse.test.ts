import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isMesaError } from '../../../src/errors.ts';
import { parseMail } from '../../../src/inbound/parse.ts';
import { trimReferences } from '../../../src/inbound/header-values.ts';
import { BlobStore } from '../../../src/storage/blobs.ts';
import { caseQuestion, queryTerms } from '../../../src/tickets/search-text.ts';

const mail = (head: string, body: Buffer | string) =>
  Buffer.concat([
    Buffer.from(head.replace(/\n/g, '\r\n') + '\r\n\r\n', 'latin1'),
    Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'),
  ]);

function nested(depth: number): Buffer {
  let s = `From: a@cliente.co\r\nSubject: anidado\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="n0"\r\n\r\n`;
  for (let i = 1; i < depth; i++) s += `--n${i - 1}\r\nContent-Type: multipart/mixed; boundary="n${i}"\r\n\r\n`;
  s += `--n${depth - 1}\r\nContent-Type: text/plain\r\n\r\nHola\r\n`;
  for (let i = depth - 1; i >= 0; i--) s += `--n${i}--\r\n`;
  return Buffer.from(s);
}

describe('parseMail on bad input', () => {
  it.each([
    ['labelled ISO-8859-1, really UTF-8', 'iso-8859-1', Buffer.from('Facturación mañana', 'utf8')],
    ['labelled UTF-8, really Windows-1252', 'utf-8', Buffer.from('Facturación mañana', 'latin1')],
    ['an unknown charset', 'x-desconocido', Buffer.from('Facturación mañana', 'latin1')],
  ])('reads text %s by its bytes', async (_n, charset, body) => {
    const m = await parseMail(
      mail(
        `From: a@cliente.co\nSubject: x\nMIME-Version: 1.0\nContent-Type: text/plain; charset=${charset}\nContent-Transfer-Encoding: 8bit`,
        body,
      ),
    );
    expect(m.text.trim()).toBe('Facturación mañana');
  });

  it('reads raw Latin-1 headers and a text part without charset (Outlook 2000, old POS systems)', async () => {
    const m = await parseMail(
      mail(
        'From: José Núñez <jose@cliente.co>\nTo: Soporte Técnico <soporte@mesa.test>\nSubject: Facturación no sale',
        Buffer.from('No sale la facturación, señor.', 'latin1'),
      ),
    );
    expect([m.subject, m.from?.name, m.to[0]?.name]).toEqual(['Facturación no sale', 'José Núñez', 'Soporte Técnico']);
    expect(m.text.trim()).toBe('No sale la facturación, señor.');
  });

  it("reads a part's raw Latin-1 file name and a part without charset, leaving UTF-8 and declared parts alone", async () => {
    const m = await parseMail(
      mail(
        'From: a@cliente.co\nSubject: =?utf-8?Q?Cotizaci=C3=B3n?=\nMIME-Version: 1.0\nContent-Type: multipart/mixed;\n boundary="--=_b 1"',
        Buffer.concat([
          Buffer.from('----=_b 1\r\nContent-Type: text/plain\r\n\r\nAdjunto la cotización.\r\n', 'latin1'),
          Buffer.from('----=_b 1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAñadido en UTF-8.\r\n', 'utf8'),
          Buffer.from(
            '----=_b 1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="Cotización año.pdf"\r\n' +
              'Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n----=_b 1--\r\n',
            'latin1',
          ),
        ]),
      ),
    );
    expect(m.subject).toBe('Cotización');
    expect(m.text).toContain('Adjunto la cotización.');
    expect(m.text).toContain('Añadido en UTF-8.');
    expect(m.attachments.map((a) => a.filename)).toEqual(['Cotización año.pdf']);
  });

  it('drops NUL bytes (PostgreSQL text cannot hold them)', async () => {
    const m = await parseMail(mail('From: a@cliente.co\nSubject: ho\u0000la', 'te\u0000xto'));
    expect([m.subject, m.text.trim()]).toEqual(['hola', 'texto']);
  });

  it('reads mail with bare-CR line ends (classic Mac)', async () => {
    const m = await parseMail(Buffer.from('From: a@cliente.co\rSubject: mac\r\rHola\r'));
    expect([m.from?.address, m.subject, m.text.trim()]).toEqual(['a@cliente.co', 'mac', 'Hola']);
  });

  it('parses 200 nested multiparts', async () => {
    expect((await parseMail(nested(200))).text.trim()).toBe('Hola');
  });

  it('refuses 5000 nested multiparts with a MesaError (quarantine), quickly', async () => {
    const started = performance.now();
    const err = await parseMail(nested(5000)).catch((e) => e);
    expect(isMesaError(err) && err.code).toBe('MAIL_UNPARSEABLE');
    expect(err.detail).toMatch(/^la estructura MIME excede los límites del analizador \(/);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('refuses a header over 1 MB with a MesaError', async () => {
    const err = await parseMail(mail(`From: a@cliente.co\nSubject: ${'x'.repeat(1_200_000)}`, 'hola')).catch((e) => e);
    expect(isMesaError(err) && err.code).toBe('MAIL_UNPARSEABLE');
    expect(err.detail).toMatch(/^la estructura MIME excede los límites del analizador \(/);
  });

  it('survives binary garbage and empty input', async () => {
    const garbage = await parseMail(crypto.randomBytes(100_000)).catch((e) => e);
    expect(isMesaError(garbage) || typeof garbage.text === 'string').toBe(true);
    expect(isMesaError(await parseMail(Buffer.alloc(0)).catch((e) => e))).toBe(true);
  });

  it('keeps the thread root and the last 99 of thousands of References', async () => {
    const ids = Array.from({ length: 3000 }, (_, i) => `<r${i}@x.co>`);
    const m = await parseMail(mail(`From: a@cliente.co\nSubject: x\nReferences: ${ids.join('\n ')}`, 'hola'));
    expect(m.references).toHaveLength(100);
    expect(m.references[0]).toBe('r0@x.co');
    expect(m.references[99]).toBe('r2999@x.co');
    expect(trimReferences(['a', 'b', 'a'])).toEqual(['a', 'b']);
  });

  it('marks HTML-only mail so that quote stripping cuts the HTML', async () => {
    const m = await parseMail(
      mail(
        'From: a@cliente.co\nSubject: x\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8',
        '<p>Hola <b>mundo</b></p>',
      ),
    );
    expect(m.textFromHtml).toBe(true);
    expect(m.text.trim()).toBe('Hola mundo');
  });
});

describe('parseMail with a blob store (attachments streamed to disk)', () => {
  it('writes an attachment into the store while parsing, and keeps an embedded message in memory for the filters', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-parse-'));
    try {
      const store = new BlobStore(dir);
      const file = crypto.randomBytes(1_300_000); // above the store's in-memory limit: written while it arrives
      const original =
        'From: soporte@mesa.test\r\nSubject: [Caso #7] Respaldo\r\nMessage-ID: <caso-7@mesa.test>\r\n\r\nHola\r\n';
      const raw = Buffer.from(
        [
          'From: a@cliente.co',
          'Subject: respaldo',
          'MIME-Version: 1.0',
          'Content-Type: multipart/mixed; boundary="b"',
          '',
          '--b',
          'Content-Type: text/plain; charset=utf-8',
          '',
          'Adjunto el respaldo.',
          '--b',
          'Content-Type: application/zip; name="respaldo.zip"',
          'Content-Disposition: attachment; filename="respaldo.zip"',
          'Content-Transfer-Encoding: base64',
          '',
          file.toString('base64').replace(/.{76}/g, '$&\r\n'),
          '--b',
          'Content-Type: message/rfc822',
          '',
          original,
          '--b--',
          '',
        ].join('\r\n'),
      );
      const m = await parseMail(raw, {}, undefined, store);
      const zip = m.attachments.find((a) => a.filename === 'respaldo.zip')!;
      expect(zip.content).toBeUndefined();
      expect(zip.size).toBe(file.length);
      expect(zip.sha256).toBe(BlobStore.sha256(file));
      expect((await store.get(zip.sha256!)).equals(file)).toBe(true);
      const embedded = m.attachments.find((a) => a.contentType === 'message/rfc822')!;
      expect(embedded.sha256).toBeUndefined();
      expect(embedded.content?.toString()).toContain('Message-ID: <caso-7@mesa.test>');
      expect(m.embeddedHeaders).toContain('Message-ID: <caso-7@mesa.test>');
      expect(m.text.trim()).toBe('Adjunto el respaldo.');
      // Nothing left half-written.
      expect(fs.readdirSync(path.join(dir, 'tmp'))).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stores the HTML part too, and says under which hash', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-parse-'));
    try {
      const store = new BlobStore(dir);
      const m = await parseMail(
        mail(
          'From: a@cliente.co\nSubject: x\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8',
          '<p>Hola <b>mundo</b></p>',
        ),
        {},
        undefined,
        store,
      );
      expect(m.htmlSha256).toBe(BlobStore.sha256(m.html!));
      expect((await store.get(m.htmlSha256!)).toString('utf8')).toBe(m.html);
      // Without a store nothing is written, and ingest stores the HTML itself.
      expect(
        (
          await parseMail(
            mail(
              'From: a@cliente.co\nSubject: x\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8',
              '<p>Hola</p>',
            ),
          )
        ).htmlSha256,
      ).toBeUndefined();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('parseMail and the question a new case asks', () => {
  it('stems the cleaned subject and the visible text of a mail that may open a case', async () => {
    const m = await parseMail(
      mail(
        'From: a@cliente.co\nSubject: RE: Facturacion electronica rechazada\nContent-Type: text/plain; charset=utf-8',
        'La factura electrónica 123 sale rechazada por la DIAN.\n\nEl lun, 2 nov 2026, Soporte escribió:\n> hola\n',
      ),
    );
    expect(m.questionTerms).toEqual(queryTerms(caseQuestion('Facturacion electronica rechazada', m.visibleText)));
    expect(m.questionTerms).toEqual(expect.arrayContaining(['factur', 'electron', 'rechaz', 'dian']));
    expect(m.questionTerms).not.toContain('hola');
  });

  it.each([
    ['names an earlier mail', 'In-Reply-To: <x@cliente.co>\nSubject: Factura rechazada'],
    ['carries a case tag', 'Subject: [Caso #12] Factura rechazada'],
  ])('leaves them out when the mail %s (it usually continues a case)', async (_n, head) => {
    const m = await parseMail(mail(`From: a@cliente.co\n${head}`, 'La factura sale rechazada.\n'));
    expect(m.questionTerms).toBeUndefined();
  });
});
