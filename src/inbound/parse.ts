import { Readable } from 'node:stream';
import { MesaError } from '../errors.ts';
import { attachmentFileName } from '../mail/attachment-names.ts';
import { BlobStore } from '../storage/blobs.ts';
import { caseQuestion, queryTerms } from '../tickets/search-text.ts';
import { caseNumberFromSubject, cleanSubject } from '../tickets/subject.ts';
import type { InboundAttachment, InboundMail } from './mail.ts';
import { looksMisdecoded, relabelForSniffing, SniffingIconv } from './charset.ts';
import { visibleTextOf } from './quotes.ts';
import { htmlToText } from './html-text.ts';
import { parseMime, type ParsedMime } from './mime-stream.ts';
import { unpackTnef } from './tnef-attachments.ts';
import { isOpaqueSigned, protectionOf } from './protection.ts';
import { signedContent, withSignedEntity } from './smime-signed.ts';
import { contentHash, isSpaceByte } from './content-hash.ts';
import {
  addresses,
  deliveredTo,
  firstAddress,
  headerMap,
  idList,
  noNul,
  stripBrackets,
  trimReferences,
} from './header-values.ts';

export interface ParseLimits {
  timeoutMs?: number;
  /** MAX_ATTACHMENT_BYTES: a larger attachment is not stored apart (see mime-stream.ts). */
  maxAttachmentBytes?: number;
}

/** The quarantine's reason for a mail mailparser could not take. Its splitter's structural limits (EMAXLEN: more
 * than 1000 MIME parts, or one part's header over 1 MB) are said in the desk's words, the library's after. */
function unparseableDetail(err: Error & { code?: string }): string {
  const message = String(err.message ?? '').slice(0, 200);
  return err.code === 'EMAXLEN' ? `la estructura MIME excede los límites del analizador (${message})` : message;
}

/**
 * Raw bytes → InboundMail. mailparser does the MIME work (charsets via iconv-lite, RFC 2047/2231 words,
 * HTML-only mail to text). We add what it leaves raw: the header map, envelope recipients, the report type of
 * DSNs and the text of embedded messages. A parse that throws or runs away becomes a MesaError, never a crash.
 */
/** `rawSha256`: the caller's hash of `raw`, when it has one (ingest does), so a large mail is not hashed twice.
 * `store`: attachments are streamed into it while parsing (see mime-stream.ts) instead of held in memory. */
export async function parseMail(
  raw: Buffer,
  limits: ParseLimits = {},
  rawSha256?: string,
  store?: BlobStore,
): Promise<InboundMail> {
  if (isBlank(raw)) throw new MesaError('MAIL_EMPTY');
  let parsed: ParsedMime;
  const timeoutMs = limits.timeoutMs ?? 30_000;
  const input = normalizeLineEnds(raw);
  try {
    parsed = await withTimeout(parser(input, false, store, limits.maxAttachmentBytes), timeoutMs);
    // An opaque S/MIME signature: the mail its sender wrote is inside it, and is what the case gets.
    const signed = await signedEntity(parsed, input, store);
    if (signed) parsed = await withTimeout(parser(signed, false, store, limits.maxAttachmentBytes), timeoutMs);
    // A lying charset label (see charset.ts): parse again with the labels checked against the bytes.
    if (decodedTexts(parsed).some(looksMisdecoded)) {
      const sniffed = relabelForSniffing(signed ?? input);
      parsed = await withTimeout(parser(sniffed, true, store, limits.maxAttachmentBytes), timeoutMs);
    }
  } catch (err) {
    if (err instanceof MesaError) throw err;
    throw new MesaError('MAIL_UNPARSEABLE', unparseableDetail(err as Error & { code?: string }), { cause: err });
  }

  const headers = headerMap(parsed);
  const ct = contentTypeOf(parsed);
  const parts: InboundAttachment[] = [];
  const embedded: string[] = [];
  for (const a of parsed.attachments ?? []) {
    const contentType = (a.contentType || 'application/octet-stream').toLowerCase();
    if (
      contentType === 'message/rfc822' ||
      contentType === 'text/rfc822-headers' ||
      contentType === 'message/delivery-status' ||
      contentType === 'message/global' ||
      contentType === 'message/global-headers'
    ) {
      if (a.content) embedded.push(a.content.subarray(0, 64 * 1024).toString('utf8'));
    }
    parts.push({
      filename: attachmentFileName(a.filename, contentType, parts.length + 1),
      contentType,
      size: a.size ?? a.content?.length ?? 0,
      content: a.content,
      sha256: a.sha256,
      contentId: a.contentId ? stripBrackets(a.contentId) : undefined,
      inline: a.contentDisposition === 'inline' || Boolean(a.related),
    });
  }

  const mailHtml = typeof parsed.html === 'string' && parsed.html.length > 0 ? parsed.html : undefined;
  // Outlook's winmail.dat opened into the files (and, for a mail without one, the body) it carries.
  const mailHasBody = Boolean(parsed.text?.trim() || mailHtml);
  const unpacked = await unpackTnef(parts, mailHasBody, store);
  const attachments = unpacked.attachments;
  const from = firstAddress(parsed.from);
  const htmlSource = mailHtml ?? unpacked.html;
  const html = htmlSource === undefined ? undefined : noNul(htmlSource);
  // Stored here, like the attachments: with a parse thread, its hashing and writing leave the main thread too.
  const htmlSha256 = html !== undefined && store ? await store.put(html, { derived: true }) : undefined;
  const bodyText = mailHasBody || unpacked.text === undefined ? parsed.text : unpacked.text;
  let text = noNul(bodyText ?? '').replace(/\r\n/g, '\n');
  const textFromHtml = !text.trim() && html !== undefined;
  if (textFromHtml) text = htmlToText(html);
  const date = parsed.date && !Number.isNaN(parsed.date.getTime()) ? parsed.date : undefined;
  const returnPathRaw = headers.get('return-path')?.[0];
  const subject = noNul(parsed.subject ?? '')
    .replace(/\s+/g, ' ')
    .trim();
  const inReplyTo = idList(parsed.inReplyTo).slice(0, 10);
  const references = trimReferences(idList(parsed.references));
  const visibleText = visibleTextOf({ text, html, textFromHtml });
  const contentType = (ct?.value ?? 'text/plain').toLowerCase();
  // Stemming is slow and needs only the mail: done here, on the parse thread, for a mail that may open a case.
  const continues = inReplyTo.length > 0 || references.length > 0 || caseNumberFromSubject(subject) !== undefined;
  return {
    raw,
    rawSha256: rawSha256 ?? BlobStore.sha256(raw),
    contentHash: contentHash(raw),
    size: raw.length,
    messageId: parsed.messageId ? stripBrackets(parsed.messageId) : undefined,
    from,
    replyTo: addresses(parsed.replyTo),
    to: addresses(parsed.to),
    cc: addresses(parsed.cc),
    deliveredTo: deliveredTo(headers),
    returnPath: returnPathRaw === undefined ? undefined : stripBrackets(returnPathRaw.trim()).toLowerCase(),
    subject,
    date,
    inReplyTo,
    references,
    headers,
    contentType,
    reportType: ct?.params?.['report-type']?.toLowerCase(),
    text,
    html,
    htmlSha256,
    textFromHtml: textFromHtml || undefined,
    visibleText,
    questionTerms: continues ? undefined : queryTerms(caseQuestion(cleanSubject(subject), visibleText)),
    attachments,
    embeddedHeaders: embedded.join('\n'),
    protection: protectionOf(contentType, ct?.params, text, attachments),
  };
}

/** The mail inside an opaque S/MIME signature, with the outer headers (smime-signed.ts); none for any other mail or
 * a signature that cannot be read (which keeps its .p7m and a note saying so: protection.ts). */
async function signedEntity(parsed: ParsedMime, input: Buffer, store?: BlobStore): Promise<Buffer | undefined> {
  const ct = contentTypeOf(parsed);
  if (!isOpaqueSigned((ct?.value ?? '').toLowerCase(), ct?.params)) return undefined;
  const p7m = parsed.attachments[0];
  const der = p7m?.content ?? (p7m?.sha256 && store ? await store.get(p7m.sha256) : undefined);
  const entity = der && (await signedContent(der));
  return entity ? withSignedEntity(input, entity) : undefined;
}

/** The top-level Content-Type as mailparser gives it: its value and its parameters. */
function contentTypeOf(parsed: ParsedMime): { value?: string; params?: Record<string, string> } | undefined {
  return parsed.headers.get('content-type') as { value?: string; params?: Record<string, string> } | undefined;
}

/** What a lying or missing charset garbles: the text and HTML, the subject, the people's names, the file names. */
function decodedTexts(parsed: ParsedMime): string[] {
  const names = [parsed.from, parsed.to, parsed.cc, parsed.replyTo]
    .flat()
    .flatMap((a) => a?.value ?? [])
    .map((v) => v.name);
  const files = parsed.attachments.map((a) => a.filename ?? '');
  const html = typeof parsed.html === 'string' ? parsed.html : '';
  return [parsed.text ?? '', html, parsed.subject ?? '', ...names, ...files];
}

// HTML-only mail is turned into text by us (quotes.ts), so that quote stripping knows there was no text part.
// The source goes in as 64 KiB slices of the same buffer (no copy) through a stream: given one whole Buffer,
// mailparser splits it into lines with no backpressure and every decoded piece of a large attachment is queued at
// once (peak RSS +196 MB for a 25 MB attachment; +63 MB streamed).
// A source of one slice or less is written whole, as simpleParser does: the same bytes without a stream around them.
const parser = (input: Buffer, sniff: boolean, store?: BlobStore, maxAttachmentBytes?: number) =>
  parseMime(
    input.length <= SLICE ? input : Readable.from(slices(input), { objectMode: false }),
    {
      skipImageLinks: true,
      skipTextToHtml: true,
      skipHtmlToText: true,
      maxHtmlLengthToParse: 5 * 1024 * 1024,
      ...(sniff ? { Iconv: SniffingIconv } : {}),
    } as ConstructorParameters<typeof import('mailparser').MailParser>[0],
    store,
    maxAttachmentBytes,
  );

const SLICE = 64 * 1024;

function* slices(buf: Buffer, size = SLICE): Generator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

/** mailparser has no time limit of its own; a parse that runs away becomes a refusal, not a stuck mailbox. */
async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new MesaError('MAIL_PARSE_TIMEOUT', `${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Classic Mac OS line ends (bare CR, seen in old archives and some broken gateways) leave MIME parsers with one
 * endless header line and no body. Only when the head has CRs and no LF at all are they turned into CRLF; the
 * stored raw source is never changed.
 */
function normalizeLineEnds(raw: Buffer): Buffer {
  const head = raw.subarray(0, 8192);
  if (head.includes(0x0a) || !head.includes(0x0d)) return raw;
  return Buffer.from(raw.toString('latin1').replace(/\r(?!\n)/g, '\r\n'), 'latin1');
}

function isBlank(raw: Buffer): boolean {
  for (let i = 0; i < raw.length; i++) if (!isSpaceByte(raw[i])) return false;
  return true;
}
