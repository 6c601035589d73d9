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

/** The outer header lines that describe the signature rather than the mail: the inner entity brings its own. */
const ENTITY_HEADER = /^(content-[a-z-]*|mime-version)\s*:/i;

/**
 * The mail as its sender wrote it before signing: its own headers (From, To, Subject, Message-ID… as they came), the
 * signature's Content-* headers left out, and the signed entity (its headers and body) in their place.
 */
export function withSignedEntity(source: Buffer, entity: Buffer): Buffer {
  const text = source.toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  const head = end < 0 ? text : text.slice(0, end);
  const kept: string[] = [];
  let keep = true;
  for (const line of head.split(/\r?\n/)) {
    // A folded line (RFC 5322 §2.2.3) belongs to the header before it.
    if (!/^[ \t]/.test(line)) keep = !ENTITY_HEADER.test(line);
    if (keep) kept.push(line);
  }
  return Buffer.concat([Buffer.from(`${kept.join('\r\n')}\r\nMIME-Version: 1.0\r\n`, 'latin1'), entity]);
}
