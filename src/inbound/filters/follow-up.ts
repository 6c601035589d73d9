import type { TicketView } from '../../tickets/types.ts';
import type { Facts, Filter, FilterContext } from './types.ts';
import { next } from './types.ts';

const DAY = 86_400_000;

/**
 * Threading and binding. A case is named by the subject tag `[Caso #N]`, else by In-Reply-To/References against
 * the Message-IDs stored for it. The match continues the case only when the sender belongs on it: the requester,
 * someone already on it (CC), a consultant, or someone of the same organization whose mail proves its origin
 * (customer-proof.ts; an unproven colleague's address is anyone's to write). Anyone else opens a new case that
 * records the number they named, so a stranger's text never reaches the original requester. A reply to a case
 * closed more than REOPEN_WINDOW_DAYS ago opens a new case that references the old one.
 *
 * A customer's follow-up carries its proof for this case (`target.proof`): without one it is kept as text, marked
 * unverified, and neither reopens the case nor adds the people it names (cases.ts, ingest.ts).
 */
export const followUp: Filter = {
  name: 'follow-up',
  run(mail, ctx, facts) {
    const byTag = ctx.taggedTicket;
    const byHeader = ctx.referencedTickets[0];
    if (facts.automated) {
      // Automatic mail is filed as a note on the case it is about; binding does not apply (it is never relayed).
      const t = byTag ?? byHeader ?? ctx.embeddedTickets[0];
      if (!t) return next();
      return next({
        target: {
          ticketId: t.id,
          number: t.number,
          via: byTag ? 'tag' : byHeader ? 'header' : 'embedded',
          reopen: false,
        },
      });
    }
    const candidate = byTag ?? byHeader;
    if (!candidate) return next();
    const via = byTag ? 'tag' : 'header';
    const proof = proofFor(candidate, facts);
    if (!mayWriteOn(candidate, facts, proof))
      return next({ related: { number: candidate.number, reason: 'stranger' } });
    if (
      candidate.stage === 'cerrado' &&
      candidate.closedAt !== undefined &&
      ctx.now - candidate.closedAt > ctx.config.reopenWindowDays * DAY
    ) {
      return next({ related: { number: candidate.number, reason: 'closed_long_ago' } });
    }
    const customer = facts.sender?.role === 'customer';
    const reopen = candidate.stage === 'cerrado' && customer && proof !== undefined;
    return next({
      target: {
        ticketId: candidate.id,
        number: candidate.number,
        via,
        reopen,
        ...(customer && proof ? { proof } : {}),
      },
    });
  },
};

/** How a customer's mail proves it comes from its From on this case: a signed reference must be for this case. */
export function proofFor(
  ticket: TicketView,
  facts: Pick<Facts, 'customerProof'>,
): 'signed_reply' | 'dmarc' | undefined {
  const p = facts.customerProof;
  if (!p) return undefined;
  if (p.signedCases.includes(ticket.number)) return 'signed_reply';
  return p.dmarc ? 'dmarc' : undefined;
}

export function mayWriteOn(
  ticket: TicketView,
  facts: Pick<Facts, 'sender'>,
  proof?: 'signed_reply' | 'dmarc',
): boolean {
  const s = facts.sender;
  if (!s) return false;
  if (s.role === 'consultant') return true;
  if (s.address === ticket.requester) return true;
  if (ticket.participants.some((p) => p.address === s.address)) return true;
  return s.organization === ticket.organization && proof !== undefined;
}

export type { FilterContext };
