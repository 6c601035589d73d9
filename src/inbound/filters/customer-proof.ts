import { receivingServerPass, signedCasesFor } from './consultant-auth.ts';
import type { Facts, Filter } from './types.ts';
import { next } from './types.ts';

/**
 * Whether a customer's mail comes from the address in its From. A From header proves nothing: anyone can write
 * `From: <the requester>` and `Subject: RE: [Caso #1]`. A follow-up may add people to a case, reopen it or count as
 * the requester's own words only when it proves where it comes from (follow-up.ts decides which case it proves):
 *  (a) it answers a mail we sent to THAT address: our signed Message-ID, whose recipient tag is the From address,
 *      in In-Reply-To/References (Gmail, Outlook and Apple Mail all quote the id they answer, RFC 5322 §3.6.4); or
 *  (b) DMARC passed for the From domain, as our receiving server (TRUSTED_AUTHSERV_IDS) wrote in
 *      Authentication-Results (RFC 8601, RFC 7489). Aligned DKIM or SPF alone is not taken for a customer: the
 *      domain's own policy is what says that mail from it is authenticated.
 */
export const customerProof: Filter = {
  name: 'customer-proof',
  run(mail, ctx, facts) {
    const s = facts.sender;
    if (!s || s.role !== 'customer' || facts.automated) return next();
    const signedCases = signedCasesFor(mail, ctx.config.secretKey, s.address);
    const dmarc = receivingServerPass(mail, ctx.config, s.address) === 'dmarc';
    return next({ customerProof: { signedCases, dmarc } });
  },
};

/**
 * Whether a mail proved who sent it: a customer's by (a) or (b) above, a consultant's by consultant-auth.ts. A case
 * it opens is counted as proven by the open-case limit (open-case-limit.ts), so that mail with a forged From cannot
 * fill an organization's limit for the customers who can prove who they are.
 */
export function senderProven(facts: Readonly<Facts>): boolean {
  if (facts.sender?.role === 'consultant')
    return Boolean(facts.consultantAuth?.signedCases.length || facts.consultantAuth?.authenticatedBy);
  return Boolean(facts.customerProof?.dmarc || facts.customerProof?.signedCases.length);
}
