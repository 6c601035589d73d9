import crypto from 'node:crypto';

/**
 * The consultants' list link: signed with SECRET_KEY, bound to one consultant's address, expiring. Nothing is
 * stored: a consultant removed from CONSULTANTS loses access at once (the route checks the list), and rotating
 * SECRET_KEY revokes every such link. Seven days: it is sent again with each morning digest and on `/lista`.
 */
export const CONSULTANT_LIST_PATH = '/consultores/lista/';
export const CONSULTANT_LIST_TTL_MS = 7 * 86_400_000;

const mac = (secret: string, consultant: string, expiresAt: number) =>
  crypto
    .createHmac('sha256', secret)
    .update(`mesa-lista-v1\0${consultant}\0${expiresAt}`)
    .digest('base64url')
    .slice(0, 32);

export function consultantListToken(secret: string, consultant: string, expiresAt: number): string {
  const who = consultant.toLowerCase();
  return `${Buffer.from(who).toString('base64url')}.${expiresAt}.${mac(secret, who, expiresAt)}`;
}

export function consultantListUrl(publicUrl: string, secret: string, consultant: string, now: number): string {
  const expiresAt = Math.floor((now + CONSULTANT_LIST_TTL_MS) / 1000) * 1000;
  return `${publicUrl.replace(/\/+$/, '')}${CONSULTANT_LIST_PATH}${consultantListToken(secret, consultant, expiresAt)}`;
}

/** The consultant a token names, if its signature holds and it has not expired. */
export function verifyConsultantListToken(
  secret: string,
  token: string,
  now: number,
): { consultant: string; expiresAt: number } | undefined {
  const m =
    typeof token === 'string' && token.length < 400
      ? /^([A-Za-z0-9_-]{1,300})\.(\d{10,15})\.([A-Za-z0-9_-]{32})$/.exec(token)
      : null;
  if (!m) return undefined;
  const consultant = Buffer.from(m[1], 'base64url').toString('utf8');
  const expiresAt = Number(m[2]);
  const expected = Buffer.from(mac(secret, consultant, expiresAt));
  const given = Buffer.from(m[3]);
  if (expected.length !== given.length || !crypto.timingSafeEqual(expected, given)) return undefined;
  return expiresAt > now ? { consultant, expiresAt } : undefined;
}
