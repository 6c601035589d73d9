import fs from 'node:fs';
import type { SendMailOptions } from 'nodemailer';
import type { OutboxRow } from '../db/repos/outbox.ts';
import { MesaError } from '../errors.ts';
import type { LinkKeys } from '../links/sealed.ts';
import type { BlobStore } from '../storage/blobs.ts';
import { contentOf } from './outbox.ts';
import type { TemplateRenderer } from './templates.ts';

/** A mail as nodemailer takes it, with the envelope the SMTP server is told (MAIL FROM, RCPT TO). */
export type OutgoingMail = SendMailOptions & { envelope: { from: string; to: string[] } };

/**
 * The mail an outbox row holds, as it leaves: rendered from its template and data (its sealed links opened with the
 * key), with the Message-ID and Date fixed when it was enqueued, so that a retry sends the very same mail. Its files
 * go by path: nodemailer streams each into the message as it sends, so a 25 MB attachment is never a Buffer here. A
 * blob gone missing fails this attempt like any other send error (retried, then dead-lettered).
 */
export async function outgoingMail(
  row: OutboxRow,
  deps: { renderer: TemplateRenderer; keys: LinkKeys; blobs: BlobStore; envelopeFrom: string },
): Promise<OutgoingMail> {
  const m = row.mail;
  const attachments = [];
  for (const a of m.attachments) {
    const file = deps.blobs.pathFor(a.sha256);
    await fs.promises.access(file).catch((err) => {
      throw new MesaError('STORAGE_FAILED', `adjunto ${a.filename}: ${err.code}`, { cause: err });
    });
    attachments.push({ filename: a.filename, contentType: a.contentType, path: file });
  }
  return {
    from: { name: m.from.name, address: m.from.address },
    to: m.to,
    replyTo: m.replyTo,
    subject: m.subject,
    ...contentOf(m, deps.renderer, deps.keys),
    messageId: `<${row.messageId}>`,
    date: new Date(row.createdAt),
    inReplyTo: m.inReplyTo,
    references: m.references.length ? m.references.join(' ') : undefined,
    headers: m.headers,
    // The desk's mail is Spanish or English text: quoted-printable (RFC 2045 §6.7) keeps it readable in the source.
    // nodemailer would pick it too, after counting the letters of every part, twice per part.
    textEncoding: 'quoted-printable',
    ...(attachments.length ? { attachments } : {}),
    envelope: { from: deps.envelopeFrom, to: [m.to] },
  };
}
