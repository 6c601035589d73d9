import { parseOurMessageId, sentTo } from '../../mail/message-id.ts';
import { parseAuthenticationResults } from '../authentication-results.ts';
import { headerAll, type InboundMail } from '../mail.ts';
import type { Filter } from './types.ts';
import { next } from './types.ts';

/**
 * Whether a mail whose From is a consultant really comes from that consultant. A From header proves nothing
 * (anyone can write one), so it counts only when:
 *  (a) it answers a notification we sent to THAT consultant: our signed Message-ID, whose recipient tag matches
 *      the From address, is in In-Reply-To/References (only that mailbox ever saw the id); or
 *  (b) the receiving server — an authserv-id listed in TRUSTED_AUTHSERV_IDS — says in Authentication-Results
 *      (RFC 8601) that DMARC passed for the From domain, or DKIM/SPF passed for a domain aligned with it
 *      (RFC 7489 §3.1, relaxed alignment). Results from any other authserv-id are ignored: a sender can write
 *      that header too, and RFC 8601 §5 only obliges OUR border MTA to strip forged copies of its own id.
 * The case number of (a) is checked against the case the mail lands on when the effect is decided.
 */
export const consultantAuth: Filter = {
  name: 'consultant-auth',
  run(mail, ctx, facts) {
    const s = facts.sender;
    if (!s || s.role !== 'consultant' || facts.automated) return next();
    const signedCases = signedCasesFor(mail, ctx.config.secretKey, s.address);
    const authenticatedBy = authResultsPass(mail, ctx.config.outbound.trustedAuthservIds, s.address);
    return next({ consultantAuth: { signedCases, authenticatedBy } });
  },
};

/** The cases of our signed Message-IDs in In-Reply-To/References that were sent to `address` (recipient tag). Also
 * the customers' proof (customer-proof.ts): only that mailbox ever saw those ids. */
export function signedCasesFor(mail: Pick<InboundMail, 'inReplyTo' | 'references'>, secretKey: string, address: string): number[] {
  return [...new Set(
    [...mail.inReplyTo, ...mail.references]
      .map((id) => parseOurMessageId(secretKey, id))
      .filter((id) => id !== undefined && sentTo(secretKey, id, address))
      .map((id) => id!.number),
  )];
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

/** Relaxed alignment: the same domain, or one a subdomain of the other (organisational domain, simplified). */
function aligned(a: string | undefined, b: string): boolean {
  if (!a) return false;
  const x = a.replace(/^.*@/, '').replace(/\.$/, '').toLowerCase();
  return x === b || x.endsWith(`.${b}`) || b.endsWith(`.${x}`);
}

/** `dmarc`, `dkim` or `spf` when a trusted Authentication-Results passes the From domain; else undefined. */
export function authResultsPass(mail: Pick<InboundMail, 'headers'>, trusted: readonly string[], from: string): string | undefined {
  if (!trusted.length) return undefined;
  const domain = domainOf(from);
  for (const value of headerAll(mail, 'authentication-results')) {
    let parsed: any;
    try {
      parsed = parseAuthenticationResults(value);
    } catch {
      continue;
    }
    const authserv = String(parsed?.value ?? '').trim().toLowerCase();
    if (!trusted.includes(authserv)) continue;
    const dmarc = parsed.dmarc;
    if (dmarc?.value?.toLowerCase() === 'pass' && String(dmarc.header?.from ?? '').toLowerCase() === domain) return 'dmarc';
    for (const d of [].concat(parsed.dkim ?? []) as any[]) {
      if (d?.value?.toLowerCase() === 'pass' && aligned(d.header?.d ?? d.header?.i, domain)) return 'dkim';
    }
    const spf = parsed.spf;
    if (spf?.value?.toLowerCase() === 'pass' && aligned(spf.smtp?.mailfrom ?? spf.smtp?.helo, domain)) return 'spf';
  }
  return undefined;
}
