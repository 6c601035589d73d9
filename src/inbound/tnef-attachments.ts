import { attachmentFileName, contentTypeOfName } from '../mail/attachment-names.ts';
import type { BlobStore } from '../storage/blobs.ts';
import type { InboundAttachment } from './mail.ts';
import { htmlToText } from './html-text.ts';
import { rtfBody, type RtfBody } from './rtf-body.ts';
import { isTnef, readTnef, type TnefContent, type TnefFile } from './tnef.ts';

const TNEF_TYPES = new Set(['application/ms-tnef', 'application/vnd.ms-tnef']);
/** How deep messages attached inside a winmail.dat are opened for their own files. */
const MAX_DEPTH = 3;

export interface Unpacked {
  attachments: InboundAttachment[];
  /** The body a winmail.dat carried, for a mail whose MIME parts have none (text, or else HTML). */
  text?: string;
  html?: string;
}

/**
 * Each winmail.dat among a mail's attachments (src/inbound/tnef.ts) replaced by the files inside it, so that the
 * consultant and the status page get the customer's PDF, not an opaque TNEF file. Nothing is lost: the winmail.dat
 * stays beside its files when they may not hold everything it carried (a truncated or damaged stream; no files at
 * all; a mail without a body of its own whose TNEF body could not be read). A part that claims to be TNEF and is
 * not, or was too large to keep, stays as it came.
 */
export async function unpackTnef(
  attachments: InboundAttachment[],
  mailHasBody: boolean,
  store?: BlobStore,
): Promise<Unpacked> {
  if (!attachments.some(claimsTnef)) return { attachments };
  const out: Unpacked = { attachments: [] };
  for (const part of attachments) {
    const tnef = claimsTnef(part) ? await openTnef(part, store) : undefined;
    if (!tnef) {
      out.attachments.push(part);
      continue;
    }
    const body = !mailHasBody && out.text === undefined && out.html === undefined ? await bodyOf(tnef) : undefined;
    const usableBody = body !== undefined;
    if (body?.text !== undefined) out.text = body.text;
    else if (body) out.html = body.html;
    for (const file of tnef.files) out.attachments.push(await attachmentOf(file, out.attachments.length + 1, store));
    const partial = !tnef.complete || (!usableBody && (!mailHasBody || tnef.files.length === 0));
    if (partial) out.attachments.push(part);
  }
  return out;
}

/** Outlook labels it application/ms-tnef; some gateways relabel it octet-stream and only the name is left. */
function claimsTnef(part: InboundAttachment): boolean {
  return TNEF_TYPES.has(part.contentType) || /^win(mail)?\.dat$/i.test(part.filename);
}

/** The body the winmail.dat carries: its plain text, else its HTML, else its compressed RTF read (rtf-body.ts). */
async function bodyOf(tnef: TnefContent): Promise<RtfBody | undefined> {
  if (tnef.text?.trim()) return { text: tnef.text };
  if (tnef.html?.trim()) return { html: tnef.html };
  return tnef.compressedRtf ? rtfBody(tnef.compressedRtf) : undefined;
}

/** The part's bytes (in memory, or the blob it was streamed into while parsing), read as TNEF. */
async function openTnef(part: InboundAttachment, store?: BlobStore): Promise<TnefContent | undefined> {
  let bytes = part.content;
  if (!bytes && part.sha256 && store) bytes = await store.get(part.sha256).catch(() => undefined);
  const tnef = bytes ? readTnef(bytes) : undefined;
  if (tnef) tnef.files = await withEmbeddedOpened(tnef.files, 1);
  return tnef;
}

/**
 * A message attached inside the winmail.dat (a mail the customer forwarded as an Outlook item) is a TNEF stream of
 * its own, which no one can open: in its place, what it said as a text file named by its subject, and its files.
 * Kept as it came when it holds neither, or beside them when its stream is damaged.
 */
async function withEmbeddedOpened(files: TnefFile[], depth: number): Promise<TnefFile[]> {
  const out: TnefFile[] = [];
  for (const file of files) {
    const inner = depth < MAX_DEPTH && isTnef(file.data) ? readTnef(file.data) : undefined;
    const body = inner && (await bodyOf(inner));
    const text = body && (body.text ?? htmlToText(body.html ?? ''));
    const innerFiles = inner ? await withEmbeddedOpened(inner.files, depth + 1) : [];
    if (!inner || (!text?.trim() && !innerFiles.length)) {
      out.push(file);
      continue;
    }
    if (text?.trim()) {
      const name = `${inner.subject?.trim() || file.name?.trim() || 'mensaje adjunto'}.txt`;
      out.push({ name, contentType: 'text/plain', data: Buffer.from(text.replace(/\r\n/g, '\n')) });
    }
    out.push(...innerFiles);
    if (!inner.complete) out.push(file);
  }
  return out;
}

async function attachmentOf(file: TnefFile, n: number, store?: BlobStore): Promise<InboundAttachment> {
  const contentType = file.contentType ?? contentTypeOfName(file.name);
  return {
    filename: attachmentFileName(file.name, contentType, n),
    contentType,
    size: file.data.length,
    // Stored like the parts mailparser streamed: a derived blob (the raw mail holding it is the durable copy).
    ...(store ? { sha256: await store.put(file.data, { derived: true }) } : { content: file.data }),
    contentId: file.contentId,
    inline: false,
  };
}
