import crypto from 'node:crypto';
import { boundedMemo } from '../memo.ts';
import { pooledRandomByte } from '../mail/random.ts';

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
const FILETIME_EPOCH_OFFSET_MS = 11_644_473_600_000; // ms between 1601-01-01 and 1970-01-01

/**
 * floor(ms × 10,000 / 2^shift): the FILETIME (100 ns units) of `ms` milliseconds shifted right, exactly, in doubles.
 * ms × 10,000 is past 2^53 for today's dates, hence the split into 4096 ms (or 16384 ms) steps and a remainder.
 */
function filetimeShifted(ms: number, shift: 16 | 18): number {
  // 10,000 / 2^16 = 625 / 4096; 10,000 / 2^18 = 625 / 16384.
  const unit = shift === 16 ? 4096 : 16384;
  const whole = Math.floor(ms / unit);
  return whole * 625 + Math.floor(((ms - whole * unit) * 625) / unit);
}

/** The 16-byte conversation GUID of a case, derived from its number with SECRET_KEY. A case's mails are usually
 * written together (the confirmation and the consultants' notices): remembered for the last few cases. */
const conversationId = boundedMemo(
  256,
  (secret: string, caseNumber: number) => `${secret}\0${caseNumber}`,
  (secret: string, caseNumber: number) =>
    crypto.createHmac('sha256', secret).update(`mesa-thread-v1|${caseNumber}`).digest().subarray(0, 16),
);

/**
 * The header block: bytes 1–5 are the FILETIME of the case's creation, bits 55..16, then the GUID. Worked out in
 * doubles (filetimeShifted), not BigInt, straight into the one Buffer: every mail enqueued carries a Thread-Index,
 * and the doubles give the same bits exactly (docs/performance.md, «Decisiones medidas»).
 */
export function threadIndex(secret: string, caseNumber: number, caseCreatedAt: number, now: number): string {
  const out = Buffer.allocUnsafe(27);
  out[0] = 0x01;
  // Bits 55..16 of the FILETIME: its value shifted 16 bits, low 40 bits kept (2^40 fits a double exactly).
  out.writeUIntBE(filetimeShifted(Math.floor(caseCreatedAt) + FILETIME_EPOCH_OFFSET_MS, 16) % 2 ** 40, 1, 5);
  conversationId(secret, caseNumber).copy(out, 6);
  // Child block: the time since the header (bits 48..18 of the FILETIME difference when it fits), then 8 random bits.
  const deltaMs = Math.floor(Math.max(now, caseCreatedAt)) - Math.floor(caseCreatedAt);
  out.writeUInt32BE(filetimeShifted(deltaMs, 18) % 2 ** 31, 22);
  out[26] = pooledRandomByte();
  return out.toString('base64');
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
