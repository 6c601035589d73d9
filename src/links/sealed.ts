import { LINK_PATH, linkMac, makeToken, parseToken, sameMac } from './tokens.ts';

/**
 * A magic link inside mail waiting in the outbox, without the token. The token is an HMAC with SECRET_KEY of the
 * case number, the recipient, the generation and the expiry (tokens.ts), so those four values and the key rebuild
 * it; the key is never in the database, and the four values are already in `links` beside the token's hash. A
 * database backup (or the outbox of a stolen disk) therefore holds no working link, while the dispatcher builds the
 * very same URL at every attempt: a retry sends the same bytes.
 *
 * Sealed at the one place every mail passes (the outbox, when it stores a mail) rather than by each caller: a link
 * is found by its shape and kept only when its MAC is the one for this mail's recipient, so words a person wrote are
 * never touched, and a new kind of mail needs nothing to be safe at rest.
 */
export interface SealedLink {
  $link: { number: number; generation: number; expiresAt: number; fragment?: string };
}

export interface LinkKeys {
  secretKey: string;
  publicUrl: string;
}

const base = (publicUrl: string) => `${publicUrl.replace(/\/+$/, '')}${LINK_PATH}`;

function isSealed(v: unknown): v is SealedLink {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    typeof (v as SealedLink).$link === 'object' &&
    (v as SealedLink).$link !== null
  );
}

/**
 * Links issued lately (links.ts notes each one it hands out), by URL, with their recipient: most links a mail carries
 * were issued a moment before, in the same transaction, and are sealed from here without computing their MAC again.
 */
const ISSUED_MAX = 2000;
const issued = new Map<string, { recipient: string; number: number; generation: number; expiresAt: number }>();

export function noteIssuedLink(
  url: string,
  p: { recipient: string; number: number; generation: number; expiresAt: number },
): void {
  if (issued.has(url)) return;
  if (issued.size >= ISSUED_MAX) issued.delete(issued.keys().next().value!);
  issued.set(url, {
    recipient: p.recipient.toLowerCase(),
    number: p.number,
    generation: p.generation,
    expiresAt: p.expiresAt,
  });
}

/** The link `url` to `recipient` as a SealedLink, or undefined when it is not one of ours for that recipient. */
function seal(url: string, prefix: string, secretKey: string, recipient: string): SealedLink | undefined {
  const hash = url.indexOf('#');
  const known = issued.get(hash < 0 ? url : url.slice(0, hash));
  let parts: { number: number; generation: number; expiresAt: number } | undefined;
  if (known) {
    if (known.recipient !== recipient) return undefined;
    parts = known;
  } else {
    const token = parseToken(url.slice(prefix.length, hash < 0 ? undefined : hash));
    if (!token) return undefined;
    const expected = linkMac(secretKey, {
      number: token.number,
      recipient,
      generation: token.generation,
      expiresAt: token.expiresAt,
    });
    if (!sameMac(expected, token.mac)) return undefined;
    parts = token;
  }
  const fragment = hash < 0 ? undefined : url.slice(hash + 1);
  return {
    $link: {
      number: parts.number,
      generation: parts.generation,
      expiresAt: parts.expiresAt,
      ...(fragment ? { fragment } : {}),
    },
  };
}

/**
 * `data` with every link to `recipient` replaced by its SealedLink. `data` itself is never changed: only what holds a
 * link is copied (a mail's data is mostly lines of text without one, and every mail that is stored passes here).
 */
export function sealLinks<T>(data: T, keys: LinkKeys, recipient: string): T {
  const prefix = base(keys.publicUrl);
  const to = recipient.toLowerCase();
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return v.startsWith(prefix) ? (seal(v, prefix, keys.secretKey, to) ?? v) : v;
    if (Array.isArray(v)) {
      let out: unknown[] | undefined;
      for (let i = 0; i < v.length; i++) {
        const x = walk(v[i]);
        if (x !== v[i]) (out ??= v.slice())[i] = x;
      }
      return out ?? v;
    }
    if (v && typeof v === 'object') {
      let out: Record<string, unknown> | undefined;
      const o = v as Record<string, unknown>;
      for (const k in o) {
        const y = walk(o[k]);
        if (y !== o[k]) (out ??= { ...o })[k] = y;
      }
      return out ?? v;
    }
    return v;
  };
  return walk(data) as T;
}

/** `data` with every SealedLink turned back into the URL for `recipient` (what the dispatcher renders). */
export function openLinks<T>(data: T, keys: LinkKeys, recipient: string): T {
  const prefix = base(keys.publicUrl);
  const to = recipient.toLowerCase();
  const walk = (v: unknown): unknown => {
    if (isSealed(v)) {
      const { number, generation, expiresAt, fragment } = v.$link;
      const token = makeToken(keys.secretKey, { number, recipient: to, generation, expiresAt });
      return `${prefix}${token}${fragment ? `#${fragment}` : ''}`;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = walk(x);
      return out;
    }
    return v;
  };
  return walk(data) as T;
}
