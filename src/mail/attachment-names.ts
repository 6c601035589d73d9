import mime from 'mime-types';

/**
 * An attachment's file name as Mesa keeps and shows it, from the name a mail's Content-Disposition/Content-Type or a
 * browser's upload claims. Both come from outside and reach a consultant's mail client and the status page, so:
 *
 * - no directory: a name with `/` or `\` keeps only its last part, as a browser or mail client saving it would;
 * - no control characters (C0, DEL, C1) and no line or paragraph separators (U+2028, U+2029): a name is one line;
 * - no invisible format characters (Unicode category Cf): the bidirectional overrides and isolates (U+202A–U+202E,
 *   U+2066–U+2069) make «factura‮fdp.exe» read as «facturaexe.pdf» in the reader's mail client (the old
 *   "right-to-left override" trick), and zero-width characters make two names look alike;
 * - at most 200 characters.
 *
 * Empty when nothing is left (or only `.`/`..`): the caller names the file itself.
 */
export function cleanAttachmentName(name: string | undefined): string {
  const last = (name ?? '').split(/[\\/]/).pop() ?? '';
  const clean = last
    .replace(/[\p{Cc}\p{Cf}\u2028\u2029]+/gu, '')
    .trim()
    .slice(0, 200)
    .trim();
  return clean === '.' || clean === '..' ? '' : clean;
}

/**
 * A stored attachment's name as a page or a mail shows it: cleaned again, since rows written before the cleaning
 * (or by a path that did not clean) may still hold what a sender claimed. Never empty.
 */
export function shownAttachmentName(name: string | undefined): string {
  return cleanAttachmentName(name) || 'adjunto';
}

/** The name an attachment is kept under: its own, cleaned; «adjunto-N.ext» when nothing usable is left, N its place
 * among the mail's attachments and ext the one its content type has in mime-db (txt, eml, pdf), so that the
 * consultant's mail client and the customer's computer know how to open it. */
export function attachmentFileName(name: string | undefined, contentType: string, n: number): string {
  const cleaned = cleanAttachmentName(name);
  if (cleaned) return cleaned;
  return `adjunto-${n}.${mime.extension(contentType) || 'bin'}`;
}

/** The content type of a file known only by its name (a file inside a winmail.dat without its MIME tag). */
export function contentTypeOfName(name: string | undefined): string {
  return (name && mime.lookup(name)) || 'application/octet-stream';
}
