import type { Config } from '../../config.ts';
import { headerFields } from '../../mail/header-fields.ts';
import { parseOurMessageId, sentTo } from '../../mail/message-id.ts';
import {
  parseAuthenticationResults,
  type AuthenticationResults,
  type MethodResult,
} from '../authentication-results.ts';
import type { InboundMail } from '../mail.ts';
import type { Filter } from './types.ts';
import { next } from './types.ts';

/**
 * Whether a mail whose From is a consultant really comes from that consultant. A From header proves nothing
 * (anyone can write one), so it counts only when:
 *  (a) it answers a notification we sent to THAT consultant: our signed Message-ID, whose recipient tag matches
 *      the From address, is in In-Reply-To/References (only that mailbox ever saw the id); or
 *  (b) our own receiving server says so in Authentication-Results (RFC 8601), see authResultsPass().
 * The case number of (a) is checked against the case the mail lands on when the effect is decided.
 */
export const consultantAuth: Filter = {
  name: 'consultant-auth',
  run(mail, ctx, facts) {
    const s = facts.sender;
    if (!s || s.role !== 'consultant' || facts.automated) return next();
    const signedCases = signedCasesFor(mail, ctx.config.secretKey, s.address);
    const authenticatedBy = receivingServerPass(mail, ctx.config, s.address);
    return next({ consultantAuth: { signedCases, authenticatedBy } });
  },
};

/** The cases of our signed Message-IDs in In-Reply-To/References that were sent to `address` (recipient tag). Also
 * the customers' proof (customer-proof.ts): only that mailbox ever saw those ids. */
export function signedCasesFor(
  mail: Pick<InboundMail, 'inReplyTo' | 'references'>,
  secretKey: string,
  address: string,
): number[] {
  return [
    ...new Set(
      [...mail.inReplyTo, ...mail.references]
        .map((id) => parseOurMessageId(secretKey, id))
        .filter((id) => id !== undefined && sentTo(secretKey, id, address))
        .map((id) => id!.number),
    ),
  ];
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

/**
 * The Authentication-Results our own receiving server wrote: fields with an authserv-id listed in
 * TRUSTED_AUTHSERV_IDS that lie above the sender's part of the header. Every relay prepends its trace fields, so
 * what the sender wrote (a forged `dmarc=pass` included) lies below the Received field of our border MTA; RFC 8601
 * §5 has that MTA remove copies of its own id, and has readers ignore results it did not add.
 * - Above the first Received field, every trusted field counts: no sender can write there (Postfix with OpenDKIM,
 *   OpenDMARC or rspamd milters puts its results there).
 * - When our own servers add Received fields above the results (`receivedHops`, AUTH_RESULTS_RECEIVED_HOPS:
 *   Dovecot's LMTP adds one; Gmail writes its results below its own two), only the topmost trusted field within
 *   that many Received fields counts: a sender talking straight to the border MTA can put a forged field right
 *   under the real one, with nothing between them.
 */
export function receivingServerResults(
  mail: Pick<InboundMail, 'raw'>,
  trusted: readonly string[],
  receivedHops = 0,
): AuthenticationResults[] {
  if (!trusted.length) return [];
  const onTop: AuthenticationResults[] = [];
  let received = 0;
  for (const f of headerFields(mail.raw)) {
    if (f.name === 'received') {
      if (++received > receivedHops) break;
      continue;
    }
    if (f.name !== 'authentication-results') continue;
    const parsed = parseAuthenticationResults(f.value);
    if (!trusted.includes(parsed.value.trim().toLowerCase())) continue;
    if (received > 0) return onTop.length ? onTop : [parsed];
    onTop.push(parsed);
  }
  return onTop;
}

/**
 * `dmarc`, `dkim` or `spf` when our receiving server's Authentication-Results (receivingServerResults) pass the
 * From domain; else undefined. DMARC decides when the server gave a DMARC result: the topmost one, and only a pass
 * for the From domain counts (a lower `dmarc=pass` under a `dmarc=fail` is the forgery this guards against).
 * Without one, DKIM or SPF passing for a domain aligned with the From domain (RFC 7489 §3.1, relaxed) counts.
 */
export function authResultsPass(
  mail: Pick<InboundMail, 'raw'>,
  trusted: readonly string[],
  from: string,
  receivedHops = 0,
): 'dmarc' | 'dkim' | 'spf' | undefined {
  const fields = receivingServerResults(mail, trusted, receivedHops);
  const domain = domainOf(from);
  const prop = (r: MethodResult | undefined, ptype: string, name: string): string | undefined => {
    const props = r?.[ptype];
    return typeof props === 'object' ? props[name] : undefined;
  };
  const dmarc = fields.find((f) => f.dmarc)?.dmarc as MethodResult | undefined;
  if (dmarc)
    return dmarc.value === 'pass' && (prop(dmarc, 'header', 'from') ?? '').toLowerCase() === domain
      ? 'dmarc'
      : undefined;
  if (
    fields.some((f) =>
      (f.dkim ?? []).some(
        (d) => d.value === 'pass' && aligned(prop(d, 'header', 'd') ?? prop(d, 'header', 'i'), domain),
      ),
    )
  )
    return 'dkim';
  if (
    fields.some((f) => {
      const spf = f.spf as MethodResult | undefined;
      return spf?.value === 'pass' && aligned(prop(spf, 'smtp', 'mailfrom') ?? prop(spf, 'smtp', 'helo'), domain);
    })
  )
    return 'spf';
  return undefined;
}

/** authResultsPass with this deployment's settings (TRUSTED_AUTHSERV_IDS, AUTH_RESULTS_RECEIVED_HOPS). */
export function receivingServerPass(
  mail: Pick<InboundMail, 'raw'>,
  config: Pick<Config, 'outbound'>,
  from: string,
): ReturnType<typeof authResultsPass> {
  return authResultsPass(mail, config.outbound.trustedAuthservIds, from, config.outbound.authResultsReceivedHops);
}
