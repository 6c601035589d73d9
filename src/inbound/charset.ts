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
 * labels without looking. When a parse looks misdecoded the mail is parsed again with those labels renamed to our
 * sniffing charset (keeping the original name in it, "x-mesa-sniff-iso-8859-15"); other charsets (ISO-2022-JP…)
 * keep their names. The stored raw source is untouched.
 */
export function relabelForSniffing(raw: Buffer): Buffer {
  return Buffer.from(
    raw
      .toString('latin1')
      .replace(
        /(;\s*charset\s*=\s*)"?(utf-?8|us-?ascii|iso-?8859-?(?:1|15)|latin-?1|windows-125[02]|cp125[02])"?/gi,
        (_m, pre: string, cs: string) => `${pre}${SNIFF}-${cs.toLowerCase()}`,
      ),
    'latin1',
  );
}
