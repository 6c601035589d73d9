import { inUnitOfWork } from '../db/unit-of-work.ts';
import { countLinkRequests, openCasesOf, recordLinkRequest } from '../db/repos/status-page.ts';
import { findTicketById, participantsOf } from '../db/repos/tickets.ts';
import type { Logger } from '../logger.ts';
import { BlobStore } from '../storage/blobs.ts';
import { PROVEN_ORIGINS, type Ticket } from '../tickets/types.ts';
import type { Access, PortalDeps } from './portal-types.ts';

/** New links for a customer whose link went stale or got lost (the status page's "Enviarme un enlace nuevo" and
 * "Perdí mi enlace"). */

const HOUR = 3_600_000;

/**
 * A fresh link for a stale one, sent to the address the old link was made for when it still belongs to the
 * case, else to the requester: never to an address typed in. Limited per case; the route limits per client.
 */
export async function requestFreshLink(
  deps: PortalDeps,
  log: Logger,
  now: number,
  s: Extract<Access, { kind: 'stale' }>,
): Promise<'sent' | 'limited'> {
  const { db, config, links, mailer } = deps;
  const key = `case:${s.ticketId}`;
  if ((await countLinkRequests(db, key, now - HOUR)) >= config.web.linkRequestsPerCase) return 'limited';
  await inUnitOfWork(db, async (trx) => {
    await recordLinkRequest(trx, 'fresh', key, now);
    const ticket = await findTicketById(trx, s.ticketId);
    if (!ticket) return;
    const people = await participantsOf(trx, ticket.id);
    // Only someone put on the case by a proven path (never a Cc a forged follow-up may have added).
    const belongs =
      s.recipient === ticket.requester ||
      people.some(
        (p) => p.address === s.recipient && p.role !== 'consultant' && PROVEN_ORIGINS.includes(p.addedBy ?? 'unproven'),
      );
    const recipient = belongs ? s.recipient : ticket.requester;
    const url = await links.issueLink(trx, { ticketId: ticket.id, number: ticket.number, recipient, now });
    if (mailer) await mailer.freshLink(trx, { ticket, recipient, url, now });
    else log.warn({ ticket: ticket.number }, 'no hay quién envíe el enlace nuevo (outbound sin conectar)');
  });
  return 'sent';
}

/**
 * "Perdí mi enlace": mails the address the links to its open cases. The caller shows the same answer whatever
 * happens here, so the page does not tell who has cases; limited per address (hashed) as well as per client.
 */
export async function lostLinks(deps: PortalDeps, now: number, address: string): Promise<void> {
  const { db, config, links, mailer } = deps;
  const addr = address.trim().toLowerCase();
  const key = `addr:${BlobStore.sha256(addr)}`;
  if ((await countLinkRequests(db, key, now - HOUR)) >= config.web.linkRequestsPerCase) return;
  const open = await openCasesOf(db, addr);
  await inUnitOfWork(db, async (trx) => {
    await recordLinkRequest(trx, 'lost', key, now);
    if (open.length === 0) return;
    const found: Array<{ ticket: Ticket; url: string }> = [];
    for (const c of open) {
      const ticket = await findTicketById(trx, c.id);
      if (ticket)
        found.push({
          ticket,
          url: await links.issueLink(trx, { ticketId: ticket.id, number: ticket.number, recipient: addr, now }),
        });
    }
    if (mailer) await mailer.lostLinks(trx, { address: addr, cases: found, now });
  });
}
