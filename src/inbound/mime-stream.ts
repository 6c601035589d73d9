import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { MailParser, type ParsedMail } from 'mailparser';
import type { BlobStore } from '../storage/blobs.ts';

/**
 * mailparser's `simpleParser` (dist/esm/simple-parser.js, 3.x), with one change: an attachment's content stream
 * goes straight into the blob store (hashed and written while it is decoded) instead of being gathered into chunks
 * and concatenated into one Buffer. A 25 MB attachment was two 25 MB copies at once; now it is 64 KiB at a time
 * (docs/performance.md, «Memoria»). Without a store, or for the small parts the filters read (embedded messages and
 * delivery reports), the content stays in memory as before.
 *
 * The result has simpleParser's shape; a streamed attachment has `content` undefined and `sha256` set.
 */
export type StreamedAttachment = Omit<ParsedMail['attachments'][number], 'content'> & {
  content?: Buffer;
  sha256?: string;
};
export type ParsedMime = Omit<ParsedMail, 'attachments'> & { attachments: StreamedAttachment[] };

const IN_MEMORY = new Set([
  'message/rfc822',
  'text/rfc822-headers',
  'message/delivery-status',
  'message/global',
  'message/global-headers',
]);

/** `input`: a stream, or the whole source as one Buffer (written at once: for a small source). An attachment over
 * `maxAttachmentBytes` is refused (kept only in the raw source): no blob is written for it, `sha256` stays
 * undefined. */
export function parseMime(
  input: Readable | Buffer,
  options: ConstructorParameters<typeof MailParser>[0],
  store?: BlobStore,
  maxAttachmentBytes = Infinity,
): Promise<ParsedMime> {
  return new Promise((resolve, reject) => {
    // MailParser may emit a non-fatal 'error' and still reach 'end': settle once, the first error or the result.
    let settled = false;
    const settle = (err: unknown, mail?: ParsedMime) => {
      if (settled) return;
      settled = true;
      if (err) reject(err);
      else resolve(mail!);
    };
    const mail = { attachments: [] as StreamedAttachment[] } as unknown as ParsedMime & Record<string, unknown>;
    const parser = new MailParser(options);
    parser.on('error', (err) => settle(err));
    parser.on('headers', (headers) => {
      mail.headers = headers;
      mail.headerLines = (parser as unknown as { headerLines: ParsedMail['headerLines'] }).headerLines;
    });
    let reading = false;
    const reader = (): void => {
      reading = true;
      const data = parser.read() as any;
      if (data === null) {
        reading = false;
        return;
      }
      if (data.type === 'text') {
        for (const key of ['text', 'html', 'textAsHtml']) if (key in data) mail[key] = data[key];
        reader();
        return;
      }
      if (data.type !== 'attachment') {
        reader();
        return;
      }
      // As mailparser emits it: the content is a stream, and release() lets the parser go on.
      const attachment = data as { content: Readable; contentType: string; release(): void };
      mail.attachments.push(attachment as unknown as StreamedAttachment);
      const done = (err?: unknown) => {
        attachment.release();
        if (err) settle(err);
        else reader();
      };
      if (store && !IN_MEMORY.has(String(attachment.contentType).toLowerCase())) {
        store.putStreamUpTo(attachment.content, maxAttachmentBytes).then(({ sha256, size }) => {
          Object.assign(attachment, { content: undefined, sha256, size });
          done();
        }, done);
        return;
      }
      const chunks: Buffer[] = [];
      let length = 0;
      attachment.content.on('readable', () => {
        for (let chunk: Buffer | null; (chunk = attachment.content.read()) !== null;) {
          chunks.push(chunk);
          length += chunk.length;
        }
      });
      attachment.content.on('end', () => {
        (attachment as unknown as StreamedAttachment).content = Buffer.concat(chunks, length);
        done();
      });
    };
    parser.on('readable', () => {
      if (!reading) reader();
    });
    parser.on('end', () => {
      for (const key of [
        'subject',
        'references',
        'date',
        'to',
        'from',
        'cc',
        'bcc',
        'message-id',
        'in-reply-to',
        'reply-to',
      ]) {
        if (mail.headers?.has(key))
          mail[key.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase())] = mail.headers.get(key);
      }
      // As simpleParser: cid: images in the HTML become data: URIs (the page shows the HTML without fetching parts).
      (parser as any).updateImageLinks(
        (a: StreamedAttachment, replaced: (err: unknown, url?: string) => void) => {
          try {
            const content =
              a.content ?? (a.sha256 && store ? fs.readFileSync(store.pathFor(a.sha256)) : Buffer.alloc(0));
            replaced(false, `data:${a.contentType};base64,${content.toString('base64')}`);
          } catch (err) {
            replaced(err);
          }
        },
        (err: unknown, html: string) => {
          if (err) return settle(err);
          mail.html = html;
          settle(null, mail);
        },
      );
    });
    if (Buffer.isBuffer(input)) {
      parser.end(input);
      return;
    }
    input
      .once('error', (err) => {
        input.destroy();
        parser.destroy();
        settle(err);
      })
      .pipe(parser);
  });
}
