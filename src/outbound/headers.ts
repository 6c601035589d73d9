import crypto from 'node:crypto';
import { boundedMemo } from '../memo.ts';
import { pooledRandomByte } from './random.ts';

/**
 * Threading and automatic-mail headers, pure.
 *
 * - RFC 5322 §3.6.4: In-Reply-To names the mail answered, References the chain; Gmail, Thunderbird and Apple Mail
 *   thread on References (Gmail also wants the same subject, which is why every mail of a case carries
 *   `[Caso #N] <subject>`).
 * - Outlook threads on Thread-Index (MS-OXOMSG §2.2.1.3, the PidTagConversationIndex): a 22-byte header — one
 *   reserved byte, five bytes of FILETIME, a 16-byte GUID — followed by 5-byte child blocks. Every mail of a case
 *   shares the header (GUID derived from the case), so Outlook puts them in one conversation; Thread-Topic is the
 *   subject without prefixes.
 * - RFC 3834 §5: `Auto-Submitted: auto-replied` for automatic answers to a mail, `auto-generated` for other
 *   automatic mail; a consultant's relayed answer is a person's mail and carries neither. Exchange honours
 *   `X-Auto-Response-Suppress: All` (MS-OXCMAIL §2.2.3.2.14) and sends no out-of-office or receipts back.
 */
const FILETIME_EPOCH_OFFSET = 11_644_473_600_000n; // ms between 1601-01-01 and 1970-01-01

function filetime(ms: number): bigint {
  return (BigInt(Math.floor(ms)) + FILETIME_EPOCH_OFFSET) * 10_000n;
}

/** The 16-byte conversation GUID of a case, derived from its number with SECRET_KEY. A case's mails are usually
 * written together (the confirmation and the consultants' notices): remembered for the last few cases. */
const conversationId = boundedMemo(256, (secret: string, caseNumber: number) => `${secret}\0${caseNumber}`, (secret: string, caseNumber: number) =>
  crypto.createHmac('sha256', secret).update(`mesa-thread-v1|${caseNumber}`).digest().subarray(0, 16));

export function threadIndex(secret: string, caseNumber: number, caseCreatedAt: number, now: number): string {
  const head = Buffer.alloc(22);
  const ft = filetime(caseCreatedAt);
  head[0] = 0x01;
  // The five bytes after the reserved one are the FILETIME's bits 55..16.
  head.writeUIntBE(Number((ft >> 16n) & 0xff_ffff_ffffn), 1, 5);
  conversationId(secret, caseNumber).copy(head, 6);
  // Child block: the time since the header (bits 48..18 of the FILETIME difference when it fits), then 8 random bits.
  const delta = filetime(Math.max(now, caseCreatedAt)) - ft;
  const child = Buffer.alloc(5);
  child.writeUInt32BE(Number((delta >> 18n) & 0x7fff_ffffn), 0);
  child[4] = pooledRandomByte();
  return Buffer.concat([head, child]).toString('base64');
}

export type AutoSubmitted = 'auto-generated' | 'auto-replied' | undefined;

/** A new object each time: the caller adds the threading headers to it. */
export function automaticHeaders(autoSubmitted: AutoSubmitted, loopToken: string): Record<string, string> {
  if (!autoSubmitted) return { 'X-Auto-Response-Suppress': 'All', 'X-Mesa-Loop': loopToken };
  return { 'Auto-Submitted': autoSubmitted, 'X-Auto-Response-Suppress': 'All', 'X-Mesa-Loop': loopToken };
}

export function bracket(id: string): string {
  return `<${id.replace(/^<|>$/g, '')}>`;
}
