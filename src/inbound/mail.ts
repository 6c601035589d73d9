import type { Protection } from './protection.ts';

/** The parsed mail as the filters see it: plain data, no I/O, no parser objects. */

export interface Address {
  address: string; // lower-cased
  name: string;
}

export interface InboundAttachment {
  filename: string;
  contentType: string;
  size: number;
  /** In memory: when parsed without a blob store, and always for embedded messages and delivery reports (small,
   * read by the filters). Otherwise the content was streamed into the blob store while parsing: see `sha256`. */
  content?: Buffer;
  /** The blob already holding the content (written while parsing, src/inbound/mime-stream.ts). */
  sha256?: string;
  contentId?: string;
  inline: boolean;
}

export interface InboundMail {
  raw: Buffer;
  rawSha256: string;
  /** sha256 of the mail without trace headers: equal for two deliveries of the same message. */
  contentHash: string;
  size: number;
  messageId?: string; // without angle brackets
  from?: Address;
  replyTo: Address[];
  to: Address[];
  cc: Address[];
  /** Delivered-To, X-Original-To, Envelope-To and X-Envelope-To: where the MTA actually put it. */
  deliveredTo: string[];
  /** '' for the null reverse-path `<>` (bounces, RFC 5321 §4.5.5); undefined when there is no Return-Path. */
  returnPath?: string;
  subject: string;
  date?: Date;
  inReplyTo: string[];
  references: string[];
  /** Lower-cased header name → every value, unfolded. */
  headers: ReadonlyMap<string, readonly string[]>;
  /** Top-level content type, lower-cased, e.g. `multipart/report`, with its `report-type` when present. */
  contentType: string;
  reportType?: string;
  text: string;
  html?: string;
  /** The blob holding `html`, when parsed with a blob store (written while parsing, like the attachments). */
  htmlSha256?: string;
  /** The mail has no text/plain part: `text` was made from `html` (quote stripping then cuts the HTML instead). */
  textFromHtml?: boolean;
  /** What the person wrote: `text` (or the HTML) without the quoted history and the signature (quotes.ts). Worked
   * out with the parse, so on the parse thread when there is one (src/inbound/parse-thread.ts). */
  visibleText: string;
  /** The search stems of what a case opened by this mail asks (its cleaned subject and visible text: caseQuestion in
   * src/tickets/search-text.ts), for the similar cases and articles of its first mails. Worked out with the parse;
   * absent for a mail that names an earlier mail or a case, which usually continues one. */
  questionTerms?: string[];
  attachments: InboundAttachment[];
  /** Text of embedded message/rfc822 and text/rfc822-headers parts (bounces quote our mail there). */
  embeddedHeaders: string;
  /** Encrypted or opaque-signed by its sender: its text cannot be read here (protection.ts). */
  protection?: Protection;
}

/** Where a mail came from: an IMAP mailbox (with its UID), a file, or standard input. */
export type MailSource =
  | { kind: 'imap'; account: 'support' | 'fallback'; folder: string; uidvalidity: number; uid: number }
  /** A mailbox read through Microsoft Graph: the message's immutable id (it survives a move between folders). */
  | { kind: 'graph'; account: 'support' | 'fallback'; folder: string; id: string }
  | { kind: 'file'; path: string; index?: number }
  | { kind: 'stdin' }
  /** A quarantined mail taken again by `mesa replay`. */
  | { kind: 'replay'; quarantineId: number };

export function header(mail: Pick<InboundMail, 'headers'>, name: string): string | undefined {
  return mail.headers.get(name.toLowerCase())?.[0];
}

export function headerAll(mail: Pick<InboundMail, 'headers'>, name: string): readonly string[] {
  return mail.headers.get(name.toLowerCase()) ?? [];
}
