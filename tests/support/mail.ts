import type { StoredMail } from '../../src/db/repos/outbox.ts';

/** A plain-text UTF-8 mail from a header map and a body: the raw bytes ingest takes. */
export const mail = (headers: Record<string, string>, body: string) =>
  Buffer.from(
    Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\r\n') +
      '\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n' +
      body,
    'utf8',
  );

/** The same with a small attachment (multipart/mixed): a mail whose ingest writes a file to the blob store.
 * `file.type`: its Content-Type with any parameters, before its name (a PDF without it). */
export const mailWithAttachment = (
  headers: Record<string, string>,
  body: string,
  file: { filename: string; content: Buffer; type?: string } = {
    filename: 'contrato.pdf',
    content: Buffer.from('%PDF-1.4 contrato firmado'),
  },
) =>
  Buffer.from(
    [
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain; charset=utf-8',
      '',
      body,
      '--b1',
      `Content-Type: ${file.type ?? 'application/pdf'}; name="${file.filename}"`,
      `Content-Disposition: attachment; filename="${file.filename}"`,
      'Content-Transfer-Encoding: base64',
      '',
      file.content.toString('base64'),
      '--b1--',
      '',
    ].join('\r\n'),
    'utf8',
  );

/** The stored mail of an outbox row to `to`, for tests that write the outbox directly (insertOutbox). */
export const storedMailTo = (to: string): StoredMail => ({
  from: { name: 'Soporte', address: 'soporte@mesa.test' },
  replyTo: 'soporte@mesa.test',
  to,
  subject: 's',
  references: [],
  headers: {},
  attachments: [],
});
