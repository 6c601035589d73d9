import type { UnitOfWork } from '../db/unit-of-work.ts';
import type { Ticket } from '../tickets/types.ts';
import type { Outbox } from './outbox.ts';

/**
 * The status page's two mails (issue 4): a fresh link to the address a case belongs to, and "lost my link" —
 * the links to every open case of an address. The page decides who gets what; this only writes the mail into
 * the outbox, in the page's transaction, under the loop budget (automatic mail). Structurally the `LinkMailer`
 * of src/services/portal.ts.
 */
export class LinkMails {
  constructor(private readonly deps: { outbox: Outbox }) {}

  async freshLink(uow: UnitOfWork, p: { ticket: Ticket; recipient: string; url: string; now: number }): Promise<void> {
    await this.deps.outbox.enqueue(uow, {
      key: `links:fresh:${p.ticket.id}:${p.recipient}:${p.now}`,
      ticket: p.ticket,
      kind: 'link_fresh',
      to: p.recipient,
      toName: p.recipient === p.ticket.requester ? p.ticket.requesterName : undefined,
      automatic: true,
      budgeted: true,
      autoSubmitted: 'auto-generated',
      template: 'links',
      pick: { heading: 'headingFresh' },
      now: p.now,
      data: { cases: [{ number: p.ticket.number, subject: p.ticket.subject, url: p.url }] },
    });
  }

  async lostLinks(
    uow: UnitOfWork,
    p: { address: string; cases: Array<{ ticket: Ticket; url: string }>; now: number },
  ): Promise<void> {
    if (!p.cases.length) return;
    await this.deps.outbox.enqueue(uow, {
      key: `links:lost:${p.address}:${p.now}`,
      kind: 'link_lost',
      to: p.address,
      automatic: true,
      budgeted: true,
      autoSubmitted: 'auto-generated',
      template: 'links',
      pick: { heading: 'headingLost' },
      now: p.now,
      data: { cases: p.cases.map((c) => ({ number: c.ticket.number, subject: c.ticket.subject, url: c.url })) },
    });
  }
}
