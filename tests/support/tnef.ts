import iconv from 'iconv-lite';

/**
 * A winmail.dat written the way Outlook writes one (MS-OXTNEF), for tests that must not depend on the public corpus:
 * the stream's signature and key, its version and code page, an optional plain body, then per file its rendering
 * data, 8.3 title, bytes and MAPI properties (the long file name in UTF-16, the MIME type).
 */
export interface TnefTestFile {
  title: string;
  longName?: string;
  mime?: string;
  data: Buffer;
  /** PR_ATTACH_DATA_OBJ (an OLE object or an embedded message) instead of attAttachData. */
  asObject?: boolean;
}

export function tnefStream(p: {
  files?: TnefTestFile[];
  body?: string;
  /** attSubject: an attached message's subject. */
  subject?: string;
  html?: string;
  /** PR_RTF_COMPRESSED's bytes (see uncompressedRtf). */
  rtf?: Buffer;
  codepage?: number;
}): Buffer {
  const codepage = p.codepage ?? 1252;
  const parts: Buffer[] = [u32(0x223e9f78), u16(0x0001)];
  parts.push(attribute(1, 0x00089006, u32(0x00010000)));
  parts.push(attribute(1, 0x00069007, Buffer.concat([u32(codepage), u32(0)])));
  if (p.subject !== undefined) parts.push(attribute(1, 0x00018004, cString(p.subject, codepage)));
  if (p.body !== undefined) parts.push(attribute(1, 0x0002800c, cString(p.body, codepage)));
  const messageProps: Buffer[] = [];
  if (p.html !== undefined) messageProps.push(binaryProp(0x1013, Buffer.from(p.html)));
  if (p.rtf !== undefined) messageProps.push(binaryProp(0x1009, p.rtf));
  if (messageProps.length) parts.push(attribute(1, 0x00069003, props(messageProps)));
  for (const f of p.files ?? []) {
    parts.push(attribute(2, 0x00069002, Buffer.concat([u16(1), Buffer.alloc(12)])));
    parts.push(attribute(2, 0x00018010, cString(f.title, codepage)));
    if (!f.asObject) parts.push(attribute(2, 0x0006800f, f.data));
    const list: Buffer[] = [];
    if (f.longName !== undefined) list.push(unicodeProp(0x3707, f.longName));
    if (f.mime !== undefined) list.push(string8Prop(0x370e, f.mime));
    if (f.asObject) list.push(objectProp(0x3701, f.data));
    parts.push(attribute(2, 0x00069005, props(list)));
  }
  return Buffer.concat(parts);
}

/**
 * RTF as PR_RTF_COMPRESSED holds it without compression (MS-OXRTFCP 2.1.3.1: COMPTYPE "MELA", CRC 0), as a writer
 * may store it; the public corpus's winmail.dat files carry the compressed form ("LZFu").
 */
export function uncompressedRtf(rtf: string): Buffer {
  const body = Buffer.from(rtf, 'latin1');
  return Buffer.concat([u32(body.length + 12), u32(body.length), u32(0x414c454d), u32(0), body]);
}

function attribute(level: number, id: number, data: Buffer): Buffer {
  let sum = 0;
  for (const b of data) sum = (sum + b) & 0xffff;
  return Buffer.concat([Buffer.from([level]), u32(id), u32(data.length), data, u16(sum)]);
}

const props = (list: Buffer[]) => Buffer.concat([u32(list.length), ...list]);
const variable = (type: number, id: number, bytes: Buffer) =>
  Buffer.concat([u16(type), u16(id), u32(1), u32(bytes.length), bytes, Buffer.alloc((4 - (bytes.length % 4)) % 4)]);
const unicodeProp = (id: number, s: string) => variable(0x001f, id, Buffer.from(`${s}\0`, 'utf16le'));
const string8Prop = (id: number, s: string) => variable(0x001e, id, Buffer.from(`${s}\0`, 'latin1'));
const binaryProp = (id: number, b: Buffer) => variable(0x0102, id, b);
/** An object starts with the 16-byte id of its interface (here IStorage, as for an OLE file). */
const objectProp = (id: number, b: Buffer) =>
  variable(0x000d, id, Buffer.concat([Buffer.from('0b00000000000000c000000000000046', 'hex'), b]));

const cString = (s: string, codepage: number) =>
  Buffer.concat([iconv.encode(s, `windows-${codepage}`), Buffer.alloc(1)]);
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};
const u16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
};
