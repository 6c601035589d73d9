import { Readable } from 'node:stream';
import { decompressRTF } from '@kenjiuno/decompressrtf';
import iconv from 'iconv-lite';
import { deEncapsulateSync, Tokenize } from 'rtf-stream-parser';
import { codepageName } from './tnef.ts';

/**
 * The body of a winmail.dat that carries it only as compressed RTF (PR_RTF_COMPRESSED): what Outlook sends when the
 * customer writes in rich text, or when Exchange keeps a message's RTF only. Decompressed by @kenjiuno/decompressrtf
 * (MS-OXRTFCP). Outlook's RTF is mostly a wrapper (MS-OXRTFEX): `\fromhtml1` around the HTML the customer wrote,
 * `\fromtext` around plain text; rtf-stream-parser takes the original out. Native RTF (WordPad, Outlook's rich-text
 * editor) is read here for its text only, over rtf-stream-parser's tokenizer: paragraphs, tabs, characters in the
 * document's and each font's code page, Unicode escapes; no tables, pictures, fields' codes or formatting.
 */
export interface RtfBody {
  text?: string;
  html?: string;
}

/** A larger compressed body is not opened: the winmail.dat stays as it came (nothing lost). A body that large carries
 * pictures; its text is a small part of it. The decompressor works on arrays of numbers, 8 bytes per byte, and one
 * compressed byte gives at most ~8 (MS-OXRTFCP: a control byte and eight 2-byte references of up to 17 bytes each). */
const MAX_COMPRESSED = 1024 * 1024;
/** What its header may claim to decompress to. */
const MAX_RAW = 16 * 1024 * 1024;
const COMPRESSED = 0x75465a4c; // "LZFu"
const UNCOMPRESSED = 0x414c454d; // "MELA"

/** The body in `compressed`, or undefined when it is damaged or holds no text; never throws. */
export async function rtfBody(compressed: Buffer): Promise<RtfBody | undefined> {
  const rtf = decompressedRtf(compressed);
  if (!rtf || !/^\s*\{\\rtf/.test(rtf.subarray(0, 32).toString('latin1'))) return undefined;
  try {
    const { mode, text } = deEncapsulateSync(rtf, { decode: (buf, enc) => iconv.decode(buf, enc), mode: 'either' });
    const body = String(text);
    if (body.trim()) return mode === 'html' ? { html: body } : { text: body };
    return undefined;
  } catch {
    // Not a wrapper: native RTF, read for its text below.
  }
  try {
    const text = await plainText(rtf);
    return text.trim() ? { text } : undefined;
  } catch {
    return undefined;
  }
}

/** The RTF in PR_RTF_COMPRESSED (MS-OXRTFCP): its header (sizes, type) checked against the bytes first; undefined
 * when they disagree, the type is unknown or the stream is damaged. */
export function decompressedRtf(buf: Buffer): Buffer | undefined {
  if (buf.length < 16 || buf.length > MAX_COMPRESSED) return undefined;
  const compSize = buf.readUInt32LE(0);
  const rawSize = buf.readUInt32LE(4);
  const type = buf.readUInt32LE(8);
  // compSize counts the bytes after itself; a claim past the end would make the decompressor read zeros up to it.
  if (compSize + 4 > buf.length || rawSize > MAX_RAW) return undefined;
  if (type === UNCOMPRESSED) return buf.subarray(16, 16 + Math.min(rawSize, buf.length - 16));
  if (type !== COMPRESSED) return undefined;
  try {
    return Buffer.from(decompressRTF(Array.from(buf.subarray(0, compSize + 4))));
  } catch {
    return undefined;
  }
}

/** Groups whose text is not the document's (tables of fonts and colours, pictures, fields' codes, metadata). */
const SKIPPED = new Set([
  'fonttbl',
  'colortbl',
  'stylesheet',
  'info',
  'pict',
  'object',
  'objdata',
  'header',
  'headerl',
  'headerr',
  'headerf',
  'footer',
  'footerl',
  'footerr',
  'footerf',
  'footnote',
  'fldinst',
  'filetbl',
  'listtable',
  'listoverridetable',
  'revtbl',
  'rsidtbl',
  'xe',
  'tc',
]);
/** Control words that are characters. */
const CHARACTERS: Record<string, string> = {
  par: '\n',
  line: '\n',
  row: '\n',
  sect: '\n',
  page: '\n',
  tab: '\t',
  cell: '\t',
  '~': '\u00a0',
  _: '\u2011',
  emdash: '\u2014',
  endash: '\u2013',
  bullet: '\u2022',
  lquote: '\u2018',
  rquote: '\u2019',
  ldblquote: '\u201c',
  rdblquote: '\u201d',
};
/** A font's \fcharset as a Windows code page (RTF 1.9.1, \fcharset). */
const CHARSET_CODEPAGE: Record<number, number> = {
  128: 932,
  129: 949,
  134: 936,
  136: 950,
  161: 1253,
  162: 1254,
  163: 1258,
  177: 1255,
  178: 1256,
  186: 1257,
  204: 1251,
  222: 874,
  238: 1250,
};

interface Group {
  /** Text here is not the document's (a skipped destination, the font table). */
  skip: boolean;
  /** \ucN: how many characters stand after a \uN for readers without Unicode. */
  uc: number;
  /** The font the text is in (\fN), for its code page. */
  font?: number;
  /** Inside the font table: the font being described, once its \fN came. */
  fonts?: { defining?: number };
}

/** The text of native RTF, in the document's code page (\ansicpg) or its font's (\fcharset). */
async function plainText(rtf: Buffer): Promise<string> {
  let codepage = 1252;
  const fontCodepage = new Map<number, number>();
  // Outside the {\rtf1 …} group is nothing of the document (Outlook ends the decompressed body with a NUL there).
  const stack: Group[] = [{ skip: true, uc: 1 }];
  let out = '';
  let bytes: number[] = []; // the \'hh of one run, decoded together (a double-byte code page needs both)
  let fallback = 0; // characters still to drop after a \uN
  let first = false; // the next control word is the first of its group: a destination's name
  const decodeBytes = () => {
    if (!bytes.length) return;
    const font = stack[stack.length - 1].font;
    const cp = (font !== undefined && fontCodepage.get(font)) || codepage;
    out += iconv.decode(Buffer.from(bytes), codepageName(cp) ?? 'windows-1252');
    bytes = [];
  };
  for await (const t of Readable.from([rtf]).pipe(new Tokenize())) {
    const g = stack[stack.length - 1];
    if (t.type === GROUP_START || t.type === GROUP_END) {
      decodeBytes();
      if (t.type === GROUP_START) stack.push({ ...g, fonts: g.fonts && { ...g.fonts } });
      else if (stack.length > 1) stack.pop();
      first = t.type === GROUP_START;
      continue;
    }
    const isFirst = first;
    first = false;
    if (t.type === TEXT) {
      let text = t.data.toString('latin1').replace(/[\r\n]/g, '');
      const dropped = Math.min(fallback, text.length);
      text = text.slice(dropped);
      fallback -= dropped;
      if (g.skip || !text) continue;
      decodeBytes();
      out += text;
      continue;
    }
    const word: string = t.word;
    if (word === "'") {
      if (fallback) fallback--;
      else if (!g.skip && t.data) bytes.push(...t.data);
      continue;
    }
    if (word === 'u' && t.param !== undefined) {
      decodeBytes();
      if (!g.skip) out += String.fromCharCode(t.param < 0 ? t.param + 65536 : t.param);
      fallback = g.uc;
      continue;
    }
    fallback = 0;
    if (isFirst && word === 'rtf') g.skip = false;
    else if (word === '*' || (isFirst && SKIPPED.has(word))) {
      g.skip = true;
      if (word === 'fonttbl') g.fonts = {};
    } else if (word === 'ansicpg' && t.param) codepage = t.param;
    else if (word === 'uc' && t.param !== undefined) g.uc = t.param;
    else if (word === 'f' && t.param !== undefined) {
      decodeBytes();
      if (g.fonts) g.fonts.defining = t.param;
      else g.font = t.param;
    } else if (word === 'fcharset' && g.fonts?.defining !== undefined && t.param !== undefined) {
      const cp = CHARSET_CODEPAGE[t.param];
      if (cp) fontCodepage.set(g.fonts.defining, cp);
    } else if (CHARACTERS[word] !== undefined && !g.skip) {
      decodeBytes();
      out += CHARACTERS[word];
    }
  }
  decodeBytes();
  return out
    .replace(/(?<![ \t\u00a0])[ \t\u00a0]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** rtf-stream-parser's token types (its TokenType, a const enum the bundle cannot import). */
const GROUP_START = 0;
const GROUP_END = 1;
const TEXT = 3;
