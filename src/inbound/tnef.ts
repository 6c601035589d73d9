import iconv from 'iconv-lite';

/**
 * A reader for TNEF (MS-OXTNEF), the `winmail.dat` Outlook and Exchange send instead of plain MIME attachments to a
 * recipient they take for another Outlook. Without it, a customer's files reach the consultant as one opaque
 * `winmail.dat`. Written here, from the specification, because npm has no maintained reader: node-tnef (2020) logs
 * JSON lines to stdout through bunyan and pulls yargs and a native optional dependency; msgreader reads `.msg` only.
 *
 * A TNEF stream is a signature, a key and a run of attributes (level, id, length, data, checksum). Each attachment
 * starts with attAttachRendData; its name is attAttachTitle (8.3) or, when present, the MAPI long file name; its bytes
 * are attAttachData or, when present, the MAPI attachment data object. The message's MAPI properties may carry its
 * body as plain text, HTML or compressed RTF (kept as it comes; rtf-body.ts reads it). Everything is bounds-checked:
 * a truncated or corrupt stream ends the reading and keeps what came before it, never throws past `readTnef`.
 */

export interface TnefFile {
  name?: string;
  contentType?: string;
  contentId?: string;
  data: Buffer;
}

export interface TnefContent {
  files: TnefFile[];
  /** The message body as plain text (PR_BODY or attBody), when the stream carries one. */
  text?: string;
  /** The message body as HTML (PR_HTML), when the stream carries one. */
  html?: string;
  /** The message's subject (attSubject or PR_SUBJECT): for a message attached inside another, its name. */
  subject?: string;
  /** The message body as compressed RTF (PR_RTF_COMPRESSED, MS-OXRTFCP), as the stream carries it: Outlook's only
   * body when the customer writes in rich text (see rtf-body.ts). */
  compressedRtf?: Buffer;
  /** False when the reading stopped before the end (a truncated stream, or bytes after the last attribute). */
  complete: boolean;
}

const SIGNATURE = 0x223e9f78;
const LEVEL_ATTACHMENT = 0x02;

const ATT_BODY = 0x0002800c;
const ATT_SUBJECT = 0x00018004;
const ATT_MSG_PROPS = 0x00069003;
const ATT_OEM_CODEPAGE = 0x00069007;
const ATT_ATTACH_REND_DATA = 0x00069002;
const ATT_ATTACH_TITLE = 0x00018010;
const ATT_ATTACH_DATA = 0x0006800f;
const ATT_ATTACHMENT = 0x00069005;

const PR_SUBJECT = 0x0037;
const PR_BODY = 0x1000;
const PR_HTML = 0x1013;
const PR_RTF_COMPRESSED = 0x1009;
const PR_ATTACH_DATA_OBJ = 0x3701;
const PR_ATTACH_LONG_FILENAME = 0x3707;
const PR_ATTACH_MIME_TAG = 0x370e;
const PR_ATTACH_CONTENT_ID = 0x3712;

const PT_STRING8 = 0x001e;
const PT_UNICODE = 0x001f;
const PT_BINARY = 0x0102;
const PT_OBJECT = 0x000d;
const MV_FLAG = 0x1000;
/** Bytes of one fixed-size MAPI value as TNEF writes it (2-byte values are padded to 4). */
const FIXED_SIZE: Record<number, number> = {
  0x0002: 4, // PtypInteger16
  0x0003: 4, // PtypInteger32
  0x0004: 4, // PtypFloating32
  0x0005: 8, // PtypFloating64
  0x0006: 8, // PtypCurrency
  0x0007: 8, // PtypFloatingTime
  0x000a: 4, // PtypErrorCode
  0x000b: 4, // PtypBoolean
  0x0014: 8, // PtypInteger64
  0x0040: 8, // PtypTime
  0x0048: 16, // PtypGuid
};
/** More than this many attachments in one winmail.dat is not a customer's mail. */
const MAX_FILES = 500;

export function isTnef(data: Buffer): boolean {
  return data.length >= 6 && data.readUInt32LE(0) === SIGNATURE;
}

/** The files and body inside a TNEF stream; `undefined` when `data` is not one. */
export function readTnef(data: Buffer): TnefContent | undefined {
  if (!isTnef(data)) return undefined;
  const content: TnefContent = { files: [], complete: true };
  let codepage = 'windows-1252';
  let file: Partial<TnefFile> | undefined;
  const closeFile = () => {
    if (file?.data && content.files.length < MAX_FILES) content.files.push(file as TnefFile);
    file = undefined;
  };
  let at = 6;
  while (at + 9 <= data.length) {
    const level = data[at];
    const id = data.readUInt32LE(at + 1);
    const length = data.readUInt32LE(at + 5);
    const start = at + 9;
    // A length past the end is a truncated stream or garbage after the last attribute: keep what was read.
    if (length > data.length - start - 2) break;
    const value = data.subarray(start, start + length);
    at = start + length + 2; // the checksum is not checked: a wrong one says nothing the bounds do not

    if (id === ATT_OEM_CODEPAGE && length >= 4) codepage = codepageName(value.readUInt32LE(0)) ?? codepage;
    else if (id === ATT_ATTACH_REND_DATA) {
      closeFile();
      file = {};
    } else if (level === LEVEL_ATTACHMENT) {
      file ??= {};
      if (id === ATT_ATTACH_TITLE) file.name ??= cString(value, codepage);
      else if (id === ATT_ATTACH_DATA) file.data = value;
      else if (id === ATT_ATTACHMENT) applyAttachmentProps(file, readProps(value, codepage));
    } else if (id === ATT_BODY) content.text ??= cString(value, codepage);
    else if (id === ATT_SUBJECT) content.subject ??= cString(value, codepage);
    else if (id === ATT_MSG_PROPS) {
      const props = readProps(value, codepage);
      const subject = props.get(PR_SUBJECT);
      if (typeof subject === 'string' && subject.trim()) content.subject = subject;
      const body = props.get(PR_BODY);
      if (typeof body === 'string' && body.trim()) content.text = body;
      const html = props.get(PR_HTML);
      if (html !== undefined) content.html = typeof html === 'string' ? html : html.toString('utf8');
      const rtf = props.get(PR_RTF_COMPRESSED);
      if (Buffer.isBuffer(rtf) && rtf.length > 0) content.compressedRtf = rtf;
    }
  }
  closeFile();
  content.complete = at === data.length;
  return content;
}

function applyAttachmentProps(file: Partial<TnefFile>, props: Map<number, string | Buffer>): void {
  const long = props.get(PR_ATTACH_LONG_FILENAME);
  if (typeof long === 'string' && long) file.name = long;
  const mime = props.get(PR_ATTACH_MIME_TAG);
  if (typeof mime === 'string' && /^[\w.+-]+\/[\w.+-]+$/.test(mime)) file.contentType = mime.toLowerCase();
  const cid = props.get(PR_ATTACH_CONTENT_ID);
  if (typeof cid === 'string' && cid) file.contentId = cid;
  const object = props.get(PR_ATTACH_DATA_OBJ);
  if (Buffer.isBuffer(object)) file.data = object;
}

/**
 * A MAPI property list (MS-OXTNEF 2.1.3.4): a count, then per property its type and id, a name when the id is a
 * named one, and its values. Only the first value of each property is kept, and only strings and binaries (what the
 * reader uses). A property of a type the specification does not allow here ends the list.
 */
function readProps(buf: Buffer, codepage: string): Map<number, string | Buffer> {
  const props = new Map<number, string | Buffer>();
  if (buf.length < 4) return props;
  const count = buf.readUInt32LE(0);
  let at = 4;
  const fits = (n: number) => n >= 0 && at + n <= buf.length;
  for (let i = 0; i < count; i++) {
    if (!fits(4)) break;
    const type = buf.readUInt16LE(at);
    const id = buf.readUInt16LE(at + 2);
    at += 4;
    if (id >= 0x8000) {
      // A named property: a GUID, then a numeric id (kind 0) or a UTF-16 name (kind 1).
      if (!fits(20)) break;
      const kind = buf.readUInt32LE(at + 16);
      at += 20;
      if (!fits(4)) break;
      const size = kind === 0 ? 0 : buf.readUInt32LE(at);
      at += 4 + padded(size);
    }
    const base = type & ~MV_FLAG;
    const variable = base === PT_STRING8 || base === PT_UNICODE || base === PT_BINARY || base === PT_OBJECT;
    let values = 1;
    if (variable || type & MV_FLAG) {
      if (!fits(4)) break;
      values = buf.readUInt32LE(at);
      at += 4;
    }
    if (!variable && FIXED_SIZE[base] === undefined) break;
    for (let v = 0; v < values; v++) {
      if (!variable) {
        if (!fits(FIXED_SIZE[base])) return props;
        at += FIXED_SIZE[base];
        continue;
      }
      if (!fits(4)) return props;
      const size = buf.readUInt32LE(at);
      at += 4;
      if (!fits(size)) return props;
      const bytes = buf.subarray(at, at + size);
      at += padded(size);
      if (v > 0 || props.has(id)) continue;
      if (base === PT_STRING8) props.set(id, cString(bytes, codepage));
      else if (base === PT_UNICODE) props.set(id, bytes.toString('utf16le').replace(/\0+$/, ''));
      // A data object starts with the 16-byte id of the interface it implements (IStorage for an OLE file, IMessage
      // for an embedded message, whose bytes are a TNEF stream of their own): the file is what follows.
      else if (base === PT_OBJECT) props.set(id, bytes.subarray(16));
      else props.set(id, bytes);
    }
  }
  return props;
}

const padded = (n: number) => n + ((4 - (n % 4)) % 4);

/** An 8-bit string in the stream's code page, up to its first NUL. */
function cString(bytes: Buffer, codepage: string): string {
  const end = bytes.indexOf(0);
  return iconv.decode(end < 0 ? bytes : bytes.subarray(0, end), codepage);
}

/** A Windows code page's number as iconv-lite names it (1252 → windows-1252, 932 → cp932, 65001 → utf-8): TNEF's
 * attOemCodepage, RTF's \ansicpg (rtf-body.ts). */
export function codepageName(cp: number): string | undefined {
  if (cp === 65001) return 'utf-8';
  for (const name of [`windows-${cp}`, `cp${cp}`]) if (iconv.encodingExists(name)) return name;
  return undefined;
}
