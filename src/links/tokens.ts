import crypto from 'node:crypto';

/**
 * The magic-link token, pure: `<case number>.<generation>.<expiry, base36 seconds>.<mac>`, where the MAC is
 * HMAC-SHA256(SECRET_KEY) over the case number, the recipient, the generation and the expiry. The recipient is
 * bound by the MAC but not written in the token, so a link shows no address. Deterministic on purpose: the
 * database keeps only a hash of the token, and the same (case, recipient, generation) gives the same link in
 * every mail, so a recipient has one link per case (issue 4) without the database ever holding it.
 */
export const LINK_PATH = '/caso/';
const SHAPE = /^(\d{1,9})\.(\d{1,6})\.([0-9a-z]{1,10})\.([A-Za-z0-9_-]{32})$/;

export interface TokenParts {
  number: number;
  generation: number;
  /** Epoch milliseconds, rounded down to the second. */
  expiresAt: number;
  mac: string;
}

export function linkMac(
  secret: string,
  p: { number: number; recipient: string; generation: number; expiresAt: number },
): string {
  return crypto
    .createHmac('sha256', secret)
    .update(`mesa-link-v1|${p.number}|${p.recipient.toLowerCase()}|${p.generation}|${Math.floor(p.expiresAt / 1000)}`)
    .digest('base64url')
    .slice(0, 32);
}

export function makeToken(
  secret: string,
  p: { number: number; recipient: string; generation: number; expiresAt: number },
): string {
  return `${p.number}.${p.generation}.${Math.floor(p.expiresAt / 1000).toString(36)}.${linkMac(secret, p)}`;
}

export function parseToken(token: string): TokenParts | undefined {
  const m = SHAPE.exec(token);
  if (!m) return undefined;
  return { number: Number(m[1]), generation: Number(m[2]), expiresAt: parseInt(m[3], 36) * 1000, mac: m[4] };
}

/** What the database stores and looks up: never the token itself. */
export function tokenHash(token: string): string {
  return crypto.createHash('sha256').update(token).digest('hex');
}

/** Constant-time comparison of two MACs (equal length is checked first: lengths are public). */
export function sameMac(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}
