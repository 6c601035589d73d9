import { describe, expect, it } from 'vitest';
import { attachmentFileName, cleanAttachmentName, contentTypeOfName } from '../../../src/mail/attachment-names.ts';

describe('cleanAttachmentName', () => {
  it('keeps an ordinary name, accents and spaces included', () => {
    expect(cleanAttachmentName('Cotización 2026 (final).pdf')).toBe('Cotización 2026 (final).pdf');
    expect(cleanAttachmentName('報告書.xlsx')).toBe('報告書.xlsx');
  });

  it('keeps only the last part of a path, with either separator', () => {
    expect(cleanAttachmentName('../../etc/passwd')).toBe('passwd');
    expect(cleanAttachmentName('C:\\fakepath\\foto.png')).toBe('foto.png');
  });

  it('drops bidirectional overrides and isolates, zero-width and control characters', () => {
    expect(cleanAttachmentName('factura\u202Efdp.exe')).toBe('facturafdp.exe');
    expect(cleanAttachmentName('\u2067acta\u2069.pdf')).toBe('acta.pdf');
    expect(cleanAttachmentName('ac\u200Bta\uFEFF.pdf')).toBe('acta.pdf');
    expect(cleanAttachmentName('uno\r\nBcc: x@y\u0085.txt')).toBe('unoBcc: x@y.txt');
    expect(cleanAttachmentName('línea\u2028dos.txt')).toBe('líneados.txt');
  });

  it('is empty when nothing usable is left, so the caller names the file', () => {
    expect(cleanAttachmentName(undefined)).toBe('');
    expect(cleanAttachmentName('  \u202E ')).toBe('');
    expect(cleanAttachmentName('dir/..')).toBe('');
    expect(cleanAttachmentName('dir/')).toBe('');
  });

  it('cuts a long name to 200 characters', () => {
    expect(cleanAttachmentName(`${'a'.repeat(300)}.pdf`)).toHaveLength(200);
  });
});

describe('attachmentFileName', () => {
  it('names a file without a usable name by its place and the extension of its type', () => {
    expect(attachmentFileName(undefined, 'message/rfc822', 1)).toBe('adjunto-1.eml');
    expect(attachmentFileName('', 'text/plain', 2)).toBe('adjunto-2.txt');
    expect(attachmentFileName('\u202E', 'application/pdf', 3)).toBe('adjunto-3.pdf');
    expect(attachmentFileName(undefined, 'application/x-desconocido', 4)).toBe('adjunto-4.bin');
    expect(attachmentFileName('acta.pdf', 'text/plain', 5)).toBe('acta.pdf');
  });
});

describe('contentTypeOfName', () => {
  it('is the type a name says, or octet-stream', () => {
    expect(contentTypeOfName('Inventario.xlsx')).toBe(
      'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    );
    expect(contentTypeOfName('foto.PNG')).toBe('image/png');
    expect(contentTypeOfName('LEEME')).toBe('application/octet-stream');
    expect(contentTypeOfName(undefined)).toBe('application/octet-stream');
  });
});
