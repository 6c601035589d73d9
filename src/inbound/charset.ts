import { Transform, type TransformCallback } from 'node:stream';
import iconv from 'iconv-lite';

/**
 * Charsets that lie. Mail in the field declares ISO-8859-1 for UTF-8 text (Spanish webmails behind old gateways:
 * "facturaciÃ³n") and UTF-8 for Latin-1 text (old Outlook and POS systems: "facturaci�n"), or names a charset
 * nobody knows. mailparser accepts an `Iconv` class for its decoding; this one checks the bytes before trusting
 * the label: valid multi-byte UTF-8 under a Western single-byte label is read as UTF-8, invalid UTF-8 under a
 * UTF-8 label (or an unknown one) as Windows-1252, the superset of Latin-1 that Windows clients really send.
 */
const SNIFF = 'x-mesa-sniff';
const WESTERN = /^(iso-?8859-?(1|15)|latin-?1|l1|(windows|cp)-?125[02]|us-?ascii|ascii|ansi_x3\.4-1968)$/i;

export const SNIFF_CHARSET = SNIFF;

export function isValidUtf8(buf: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(buf);
    return true;
  } catch {
    return false;
  }
}

const hasHighBytes = (buf: Buffer) => buf.some((b) => b >= 0x80);

export function decodeText(buf: Buffer, declared: string | undefined): string {
  let label = (declared ?? '').trim().toLowerCase();
  if (label.startsWith(`${SNIFF}-`)) label = label.slice(SNIFF.length + 1);
  if (label === SNIFF || label === '' || /^utf-?8$/.test(label))
    return isValidUtf8(buf) ? buf.toString('utf8') : iconv.decode(buf, 'windows-1252');
  if (WESTERN.test(label) && hasHighBytes(buf) && isValidUtf8(buf)) return buf.toString('utf8');
  if (iconv.encodingExists(label)) return iconv.decode(buf, label);
  return isValidUtf8(buf) ? buf.toString('utf8') : iconv.decode(buf, 'windows-1252');
}

/** The node-iconv shape mailparser and libmime expect: `new Iconv(from, to)`, a stream, and `convert(buf)`. */
export class SniffingIconv extends Transform {
  private readonly chunks: Buffer[] = [];

  constructor(
    private readonly from: string,
    _to?: string,
  ) {
    super();
  }

  convert(buf: Buffer | string): Buffer {
    return Buffer.from(decodeText(Buffer.isBuffer(buf) ? buf : Buffer.from(buf, 'binary'), this.from), 'utf8');
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.chunks.push(chunk);
    done();
  }

  override _flush(done: TransformCallback): void {
    // Text parts are decoded whole: the label can only be judged on all the bytes (bounded by MAX_MESSAGE_BYTES).
    try {
      this.push(this.convert(Buffer.concat(this.chunks)));
      done();
    } catch (err) {
      done(err as Error);
    }
  }
}

/** Signs that a parse went wrong on a lying label: U+FFFD, or UTF-8 read as Latin-1 ("facturaciÃ³n"). */
export function looksMisdecoded(text: string): boolean {
  return text.includes('\uFFFD') || /[ÃÂ][\u0080-\u00BF]/.test(text);
}

/**
 * mailparser never decodes parts labelled UTF-8 or US-ASCII (it takes their bytes as UTF-8), and decodes Western
 * labels without looking. When a parse looks misdecoded the mail is parsed again from a copy in which:
 *
 * - those labels are renamed to our sniffing charset (keeping the original name in it, "x-mesa-sniff-iso-8859-15");
 *   other charsets (ISO-2022-JP…) keep their names;
 * - a text part with no charset at all (RFC 2045 §5.2 says US-ASCII; Outlook 2000 and old POS systems send Latin-1
 *   bytes under it) gets the sniffing charset, and so does a mail without any Content-Type;
 * - header lines with 8-bit bytes that are not UTF-8 (RFC 2047 asks for encoded-words; the same old clients write
 *   «Subject: Facturación» in raw Latin-1, and mailparser reads every raw header byte as UTF-8) are rewritten in UTF-8
 *   from Windows-1252, in the mail's head and in each MIME part's (an attachment's raw Latin-1 file name).
 *
 * The stored raw source is untouched.
 */
export function relabelForSniffing(raw: Buffer): Buffer {
  const text = raw
    .toString('latin1')
    .replace(
      /(;\s*charset\s*=\s*)"?(utf-?8|us-?ascii|iso-?8859-?(?:1|15)|latin-?1|windows-125[02]|cp125[02])"?/gi,
      (_m, pre: string, cs: string) => `${pre}${SNIFF}-${cs.toLowerCase()}`,
    );
  const out: string[] = [];
  const boundaries = new Set<string>();
  let head: string[] | undefined = [];
  let top = true;
  for (const line of text.split(/(?<=\n)/)) {
    if (head) {
      if (line !== '\r\n' && line !== '\n') {
        head.push(line);
        continue;
      }
      out.push(...sniffedHead(head, top, boundaries), line);
      head = undefined;
      top = false;
      continue;
    }
    out.push(line);
    // A delimiter line opens the head of the next part; the closing one ("--b--") does not.
    const delimiter = /^--(.*?)[ \t]*\r?\n?$/.exec(line)?.[1];
    if (delimiter !== undefined && boundaries.has(delimiter)) head = [];
  }
  if (head) out.push(...sniffedHead(head, top, boundaries));
  return Buffer.from(out.join(''), 'latin1');
}

/** One head (the mail's or a part's) for the second parse: boundary noted, text charset and 8-bit lines fixed. */
function sniffedHead(lines: string[], top: boolean, boundaries: Set<string>): string[] {
  // A line with UTF-8 sequences in it is UTF-8 with a damaged byte, not Latin-1: left for mailparser as it is.
  const fields = lines.map((l) =>
    isValidUtf8(Buffer.from(l, 'latin1')) || UTF8_SEQUENCE.test(l) ? l : toUtf8Bytes(l),
  );
  // The Content-Type field: its first line and its folded continuations.
  const start = fields.findIndex((l) => /^content-type\s*:/i.test(l));
  if (start < 0) {
    if (top) fields.push(`Content-Type: text/plain; charset=${SNIFF}\r\n`);
    return fields;
  }
  let end = start + 1;
  while (end < fields.length && /^[ \t]/.test(fields[end])) end++;
  const field = fields.slice(start, end).join('');
  const boundary = /boundary\s*=\s*(?:"([^"]*)"|([^\s;]+))/i.exec(field);
  if (boundary) boundaries.add(boundary[1] ?? boundary[2]);
  if (/^content-type\s*:\s*text\//i.test(field) && !/charset\s*=/i.test(field))
    fields[end - 1] = fields[end - 1].replace(/(\r?\n)?$/, `; charset=${SNIFF}$1`);
  return fields;
}

/** A multi-byte UTF-8 sequence, in a string of bytes (Latin-1). */
const UTF8_SEQUENCE = /[\xC2-\xDF][\x80-\xBF]|[\xE0-\xEF][\x80-\xBF]{2}|[\xF0-\xF4][\x80-\xBF]{3}/;

/** A header line read as Windows-1252, as the bytes of its UTF-8 (in a Latin-1 string, as the rest of the copy). */
const toUtf8Bytes = (line: string): string =>
  Buffer.from(iconv.decode(Buffer.from(line, 'latin1'), 'windows-1252'), 'utf8').toString('latin1');
