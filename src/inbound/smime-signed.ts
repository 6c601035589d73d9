import { headerBlockEnd } from './header-values.ts';

/**
 * A mail signed with S/MIME in the opaque form (RFC 8551 §3.5.2: `application/pkcs7-mime; smime-type=signed-data`)
 * carries its text inside the signature, a CMS SignedData (RFC 5652 §5) in DER or BER. pkijs (BSD-3-Clause, the
 * PKI library of Peculiar Ventures) reads the structure; its encapsulated content is the MIME entity the sender wrote.
 * The signature is not verified: like a From header it is a claim, and nothing in Mesa grants access on it. The
 * signed original stays in the mail's raw source. pkijs is loaded with the first such mail: rare mail, and every
 * `mesa ingest -` process would otherwise load it.
 */
export async function signedContent(der: Uint8Array): Promise<Buffer | undefined> {
  const { ContentInfo, SignedData } = await import('pkijs');
  try {
    // Its own copy: pkijs takes an ArrayBuffer-backed view, and a Buffer may share a pooled one.
    const info = ContentInfo.fromBER(new Uint8Array(der));
    if (info.contentType !== ContentInfo.SIGNED_DATA) return undefined;
    const content = new SignedData({ schema: info.content }).encapContentInfo.eContent;
    return content ? Buffer.from(content.getValue()) : undefined;
  } catch {
    // Not a SignedData, or a broken one: the mail keeps its .p7m and says it could not be read (protection.ts).
    return undefined;
  }
}

/** The header lines that describe a MIME entity rather than the mail (RFC 2045 §3). */
const ENTITY_HEADER = /^(content-[a-z-]*|mime-version)\s*:/i;

/**
 * The mail as its sender wrote it before signing: its own headers (From, To, Subject, Message-ID… as they came), with
 * the signature's Content-* headers replaced by those of the signed entity, and the entity's body. Only the entity's
 * Content-* headers are taken: anything else inside the signature (a second From, an Authentication-Results) is the
 * sender's unverified say and must not stand beside, or over, the headers the mail arrived with.
 */
export function withSignedEntity(source: Buffer, entity: Buffer): Buffer {
  const outer = headBody(source);
  const inner = headBody(entity);
  const head = [
    ...headerFields(outer.head).filter((f) => !ENTITY_HEADER.test(f)),
    'MIME-Version: 1.0',
    ...headerFields(inner.head).filter((f) => ENTITY_HEADER.test(f) && !/^mime-version\s*:/i.test(f)),
  ];
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), inner.body]);
}

/** A MIME entity's header block and its body (headerBlockEnd); an entity that starts with its empty line has no
 * headers. No copy of the body. */
function headBody(bytes: Buffer): { head: string; body: Buffer } {
  if (bytes[0] === 0x0a) return { head: '', body: bytes.subarray(1) };
  if (bytes[0] === 0x0d && bytes[1] === 0x0a) return { head: '', body: bytes.subarray(2) };
  const block = headerBlockEnd(bytes);
  if (!block) return { head: bytes.toString('latin1'), body: Buffer.alloc(0) };
  return { head: bytes.subarray(0, block.end).toString('latin1'), body: bytes.subarray(block.body) };
}

/** The header fields of a block, each with its folded lines (RFC 5322 §2.2.3) joined back as they were. */
function headerFields(head: string): string[] {
  const fields: string[] = [];
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && fields.length) fields[fields.length - 1] += `\r\n${line}`;
    else if (line) fields.push(line);
  }
  return fields;
}
