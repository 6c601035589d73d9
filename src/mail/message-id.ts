import crypto from 'node:crypto';
import { boundedMemo } from '../memo.ts';
import { pooledRandomBase36 } from './random.ts';

/**
 * Our Message-IDs carry the case and (as a keyed tag) the recipient, signed with SECRET_KEY:
 *   <mesa.<case>.<recipient tag>.<nonce>.<sig>@<support domain>>
 * A reply quotes it in In-Reply-To/References (RFC 5322 §3.6.4), so a reply proves which case it answers and
 * which of our mails — to whom — it answers. Only the recipient of that mail knows the id; the signature keeps
 * anyone from minting one for a consultant. The tag is an HMAC, not the address: ids travel in headers.
 */
const SHAPE = /^mesa\.(\d{1,9})\.([a-z0-9]{12})\.([a-z0-9]{6,16})\.([a-f0-9]{20})@/i;

function hmac(secret: string, data: string): Buffer {
  return crypto.createHmac('sha256', secret).update(data).digest();
}

/** Every notice to a consultant, and every mail to a customer who writes again, needs the same tag: remembered, per
 * secret (there is one in a running Mesa) by the address as given, so a look-up builds no key. */
const tagsBySecret = new Map<string, (address: string) => string>();
export function recipientTag(secret: string, address: string): string {
  let tags = tagsBySecret.get(secret);
  if (!tags)
    tagsBySecret.set(
      secret,
      (tags = boundedMemo(
        1000,
        (a: string) => a,
        (a: string): string =>
          BigInt(`0x${hmac(secret, `mesa-rcpt-v1|${a.toLowerCase()}`).subarray(0, 8).toString('hex')}`)
            .toString(36)
            .padStart(12, '0')
            .slice(-12),
      )),
    );
  return tags(address);
}

function signature(secret: string, number: number, tag: string, nonce: string): string {
  return hmac(secret, `mesa-mid-v1|${number}|${tag}|${nonce}`).subarray(0, 10).toString('hex');
}

/** A new id (without angle brackets) for a mail about case `number` to `recipient`. */
export function makeMessageId(
  secret: string,
  domain: string,
  number: number,
  recipient: string,
  nonce = pooledRandomBase36(),
): string {
  const tag = recipientTag(secret, recipient);
  return `mesa.${number}.${tag}.${nonce}.${signature(secret, number, tag, nonce)}@${domain}`;
}

export interface OurMessageId {
  number: number;
  tag: string;
}

/** The case and recipient tag of one of our ids, if the signature holds; undefined for anything else. */
export function parseOurMessageId(secret: string, id: string): OurMessageId | undefined {
  const m = SHAPE.exec(id.replace(/^<|>$/g, '').trim());
  if (!m) return undefined;
  const [, num, tag, nonce, sig] = m;
  const expected = Buffer.from(signature(secret, Number(num), tag.toLowerCase(), nonce.toLowerCase()));
  const given = Buffer.from(sig.toLowerCase());
  if (expected.length !== given.length || !crypto.timingSafeEqual(expected, given)) return undefined;
  return { number: Number(num), tag: tag.toLowerCase() };
}

/** Did `address` receive the mail with this id (of ours)? */
export function sentTo(secret: string, id: OurMessageId, address: string): boolean {
  return id.tag === recipientTag(secret, address);
}
