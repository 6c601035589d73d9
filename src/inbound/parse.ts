import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import type { AddressObject } from 'mailparser';
import { MesaError } from '../errors.ts';
import { BlobStore } from '../storage/blobs.ts';
import type { Address, InboundAttachment, InboundMail } from './mail.ts';
import { looksMisdecoded, relabelForSniffing, SniffingIconv } from './charset.ts';
import { htmlToText, visibleTextOf } from './quotes.ts';
import { parseMime, type ParsedMime } from './mime-stream.ts';

export interface ParseLimits {
  timeoutMs?: number;
  /** MAX_ATTACHMENT_BYTES: a larger attachment is not stored apart (see mime-stream.ts). */
  maxAttachmentBytes?: number;
}

/**
 * Raw bytes → InboundMail. mailparser does the MIME work (charsets via iconv-lite, RFC 2047/2231 words,
 * HTML-only mail to text). We add what it leaves raw: the header map, envelope recipients, the report type of
 * DSNs and the text of embedded messages. A parse that throws or runs away becomes a MesaError, never a crash.
 */
/** `rawSha256`: the caller's hash of `raw`, when it has one (ingest does), so a large mail is not hashed twice.
 * `store`: attachments are streamed into it while parsing (see mime-stream.ts) instead of held in memory. */
export async function parseMail(raw: Buffer, limits: ParseLimits = {}, rawSha256?: string, store?: BlobStore): Promise<InboundMail> {
  if (isBlank(raw)) throw new MesaError('MAIL_EMPTY');
  let parsed: ParsedMime;
  const timeoutMs = limits.timeoutMs ?? 30_000;
  const input = normalizeLineEnds(raw);
  try {
    parsed = await withTimeout(parser(input, false, store, limits.maxAttachmentBytes), timeoutMs);
    // A lying charset label (see charset.ts): parse again with the labels checked against the bytes.
    if (looksMisdecoded(`${parsed.text ?? ''}${typeof parsed.html === 'string' ? parsed.html : ''}`)) {
      parsed = await withTimeout(parser(relabelForSniffing(input), true, store, limits.maxAttachmentBytes), timeoutMs);
    }
  } catch (err) {
    if (err instanceof MesaError) throw err;
    throw new MesaError('MAIL_UNPARSEABLE', (err as Error).message?.slice(0, 200), { cause: err });
  }

  const headers = headerMap(parsed);
  const ct = parsed.headers.get('content-type') as { value?: string; params?: Record<string, string> } | undefined;
  const attachments: InboundAttachment[] = [];
  const embedded: string[] = [];
  for (const a of parsed.attachments ?? []) {
    const contentType = (a.contentType || 'application/octet-stream').toLowerCase();
    if (contentType === 'message/rfc822' || contentType === 'text/rfc822-headers' || contentType === 'message/delivery-status' || contentType === 'message/global' || contentType === 'message/global-headers') {
      if (a.content) embedded.push(a.content.subarray(0, 64 * 1024).toString('utf8'));
    }
    attachments.push({
      filename: safeFilename(a.filename, contentType, attachments.length + 1),
      contentType,
      size: a.size ?? a.content?.length ?? 0,
      content: a.content,
      sha256: a.sha256,
      contentId: a.contentId ? stripBrackets(a.contentId) : undefined,
      inline: a.contentDisposition === 'inline' || Boolean(a.related),
    });
  }

  const from = firstAddress(parsed.from);
  const html = typeof parsed.html === 'string' && parsed.html.length > 0 ? noNul(parsed.html) : undefined;
  // Stored here, like the attachments: with a parse thread, its hashing and writing leave the main thread too.
  const htmlSha256 = html !== undefined && store ? await store.put(html, { derived: true }) : undefined;
  let text = noNul(parsed.text ?? '').replace(/\r\n/g, '\n');
  const textFromHtml = !text.trim() && html !== undefined;
  if (textFromHtml) text = htmlToText(html);
  const date = parsed.date && !Number.isNaN(parsed.date.getTime()) ? parsed.date : undefined;
  const returnPathRaw = headers.get('return-path')?.[0];
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
    subject: noNul(parsed.subject ?? '').replace(/\s+/g, ' ').trim(),
    date,
    inReplyTo: idList(parsed.inReplyTo).slice(0, 10),
    references: trimReferences(idList(parsed.references)),
    headers,
    contentType: (ct?.value ?? 'text/plain').toLowerCase(),
    reportType: ct?.params?.['report-type']?.toLowerCase(),
    text,
    html,
    htmlSha256,
    textFromHtml: textFromHtml || undefined,
    visibleText: visibleTextOf({ text, html, textFromHtml }),
    attachments,
    embeddedHeaders: embedded.join('\n'),
  };
}

// HTML-only mail is turned into text by us (quotes.ts), so that quote stripping knows there was no text part.
// The source goes in as 64 KiB slices of the same buffer (no copy) through a stream: given one whole Buffer,
// mailparser splits it into lines with no backpressure and every decoded piece of a large attachment is queued at
// once (peak RSS +196 MB for a 25 MB attachment; +63 MB streamed).
// A source of one slice or less is written whole, as simpleParser does: the same bytes without a stream around them.
const parser = (input: Buffer, sniff: boolean, store?: BlobStore, maxAttachmentBytes?: number) =>
  parseMime(input.length <= SLICE ? input : Readable.from(slices(input), { objectMode: false }), { skipImageLinks: true, skipTextToHtml: true, skipHtmlToText: true, maxHtmlLengthToParse: 5 * 1024 * 1024, ...(sniff ? { Iconv: SniffingIconv } : {}) } as ConstructorParameters<typeof import('mailparser').MailParser>[0], store, maxAttachmentBytes);

const SLICE = 64 * 1024;

function* slices(buf: Buffer, size = SLICE): Generator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

/** mailparser has no time limit of its own; a parse that runs away becomes a refusal, not a stuck mailbox. */
async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new MesaError('MAIL_PARSE_TIMEOUT', `${ms} ms`)), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

function headerMap(parsed: ParsedMime): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const { key, line } of parsed.headerLines ?? []) {
    const idx = line.indexOf(':');
    const value = noNul((idx >= 0 ? line.slice(idx + 1) : '').replace(/\r?\n[ \t]+/g, ' ').trim());
    const list = map.get(key.toLowerCase());
    if (list) list.push(value);
    else map.set(key.toLowerCase(), [value]);
  }
  return map;
}

function addresses(obj: AddressObject | AddressObject[] | undefined): Address[] {
  const list = Array.isArray(obj) ? obj : obj ? [obj] : [];
  const out: Address[] = [];
  const walk = (entries: { address?: string; name?: string; group?: any[] }[]) => {
    for (const e of entries) {
      if (e.group) walk(e.group);
      else if (e.address && e.address.includes('@')) out.push({ address: noNul(e.address).trim().toLowerCase(), name: noNul(e.name ?? '').trim() });
    }
  };
  for (const o of list) walk(o.value ?? []);
  return out;
}

function firstAddress(obj: AddressObject | AddressObject[] | undefined): Address | undefined {
  return addresses(obj)[0];
}

/** The Message-IDs of an In-Reply-To or References header, without brackets. Loops into array literals, as
 * deliveredTo(): one kind of array, empty or not, so parseMail is not optimized again for the first reply. */
function idList(v: string | string[] | undefined): string[] {
  const out: string[] = [];
  for (const value of Array.isArray(v) ? v : v ? [v] : []) {
    for (const s of value.match(/<[^<>\s]+>/g) ?? [value]) {
      const id = stripBrackets(s.trim());
      if (id.length > 0 && id.length < 998) out.push(id);
    }
  }
  return out;
}

/** Delivered-To, X-Original-To, Envelope-To and X-Envelope-To: where the MTA actually put the mail. */
function deliveredTo(headers: Map<string, string[]>): string[] {
  const out: string[] = [];
  for (const name of DELIVERY_HEADERS) {
    for (const value of headers.get(name) ?? []) {
      for (const part of value.split(',')) {
        const address = stripBrackets(part.trim()).toLowerCase();
        if (address) out.push(address);
      }
    }
  }
  return out;
}
const DELIVERY_HEADERS = ['delivered-to', 'x-original-to', 'envelope-to', 'x-envelope-to'];

/** PostgreSQL text cannot hold U+0000 and no person typed one: NUL bytes from broken or hostile mail go. */
function noNul(s: string): string {
  return s.includes('\u0000') ? s.replace(/\u0000/g, '') : s;
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

/**
 * References grows by one id per reply; hostile or endlessly forwarded mail carries thousands (one had 1500, and
 * storing them all overflowed SQLite's compound-select limit). RFC 5322 §3.6.4 lets a long list be trimmed, and
 * the convention it inherits (RFC 1036 §2.2.5) keeps the first id, the thread's root, and the most recent ones.
 */
const MAX_REFERENCES = 100;
export function trimReferences(ids: string[]): string[] {
  const unique = [...new Set(ids)];
  return unique.length <= MAX_REFERENCES ? unique : [unique[0], ...unique.slice(-(MAX_REFERENCES - 1))];
}

export function stripBrackets(s: string): string {
  return s.replace(/^<+/, '').replace(/>+$/, '').trim();
}

/** Attachment names come from strangers: no paths, no control characters, always something to show. */
function safeFilename(name: string | undefined, contentType: string, n: number): string {
  const cleaned = (name ?? '').replace(/[\u0000-\u001f\u007f/\\]+/g, '_').trim().slice(0, 200);
  if (cleaned && cleaned !== '.' && cleaned !== '..') return cleaned;
  const ext = contentType.split('/')[1]?.replace(/[^a-z0-9]+/g, '') || 'bin';
  return `adjunto-${n}.${ext}`;
}

/** Headers an MTA adds on the way in; they differ between two deliveries of one message. */
const TRACE = /^(received|delivered-to|x-original-to|envelope-to|x-envelope-to|return-path|x-received|authentication-results|arc-[a-z-]+|received-spf|x-spam[a-z-]*|x-virus[a-z-]*|x-apparently-to|x-mesa-[a-z-]+|x-gm-[a-z-]+|x-google-smtp-source|x-ms-exchange-[a-z-]+|x-forefront-[a-z-]+|x-microsoft-[a-z-]+):/i;

export function contentHash(raw: Buffer): string {
  let end = raw.indexOf('\r\n\r\n');
  let sepLen = 4;
  const lf = raw.indexOf('\n\n');
  if (lf >= 0 && (end < 0 || lf < end)) { end = lf; sepLen = 2; }
  if (end < 0) return BlobStore.sha256(raw);
  const head = raw.subarray(0, end).toString('latin1').replace(/\r\n/g, '\n');
  const kept: string[] = [];
  let skipping = false;
  for (const line of head.split('\n')) {
    if (/^[ \t]/.test(line)) { if (!skipping) kept.push(line); continue; }
    skipping = TRACE.test(line);
    if (!skipping) kept.push(line);
  }
  // The body, CRLF as LF and trailing whitespace dropped. Same bytes hashed as the string version this replaced
  // (tests/unit/inbound/content-hash.test.ts). A small body goes in as one string: one update() instead of one per line
  // (the loop below was 7 % of the parse thread with the bench's mails). A large one is hashed in place: a 25 MB
  // attachment must not become a 34 MB string (npm run bench, peak RSS).
  const hash = crypto.createHash('sha256').update(`${kept.join('\n')}\n\n`, 'latin1');
  const body = raw.subarray(end + sepLen);
  let stop = body.length;
  while (stop > 0 && isSpaceByte(body[stop - 1])) stop--;
  if (stop <= SMALL_BODY) return hash.update(body.toString('latin1', 0, stop).replace(/\r\n/g, '\n'), 'latin1').digest('hex');
  for (let pos = 0; pos < stop;) {
    const crlf = body.indexOf(CRLF, pos);
    if (crlf < 0 || crlf >= stop) {
      hash.update(body.subarray(pos, stop));
      break;
    }
    hash.update(body.subarray(pos, crlf)).update(LF);
    pos = crlf + 2;
  }
  return hash.digest('hex');
}

const CRLF = Buffer.from('\r\n');
const SMALL_BODY = 256 * 1024;
const LF = Buffer.from('\n');

/** What JavaScript's \s and String.trim() match among single bytes read as latin1: TAB, LF, VT, FF, CR, space, NBSP. */
function isSpaceByte(b: number): boolean {
  return (b >= 0x09 && b <= 0x0d) || b === 0x20 || b === 0xa0;
}

function isBlank(raw: Buffer): boolean {
  for (let i = 0; i < raw.length; i++) if (!isSpaceByte(raw[i])) return false;
  return true;
}
