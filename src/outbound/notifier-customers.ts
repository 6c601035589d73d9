import { type UnitOfWork } from '../db/unit-of-work.ts';
import { type Ticket } from '../tickets/types.ts';
import { linesOf } from './templates.ts';

import { NotifierContext, REOPENED_BY } from './notifier-context.ts';

/** The mail to a case's customers: a consultant's answer, the case closed, the case reopened. */
export class CustomerMail extends NotifierContext {
  protected async answer(uow: UnitOfWork, t: Ticket, messageRowId: number): Promise<void> {
    const m = await this.message(uow, messageRowId);
    const now = Number(m.created_at);
    const consultant = String(m.from_address ?? '');
    const consultantName = String(m.from_name || consultant.split('@')[0] || this.deps.config.supportName);
    // The consultant's own address stays out of what the customer sees (issue 3): answers come from support.
    const text = String(m.body_text ?? '').replace(
      new RegExp(consultant.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi'),
      this.deps.config.supportAddress,
    );
    const files = await this.files(uow, messageRowId);
    for (const to of await this.customers(uow, t, 'respuesta', now)) {
      const link = await this.mailLink(uow, t, to, now, false);
      await this.deps.outbox.enqueue(uow, {
        key: `case:${t.id}:msg:${messageRowId}:answer:${to}`,
        ticket: t,
        kind: 'answer',
        to,
        toName: to === t.requester ? t.requesterName : undefined,
        automatic: false,
        budgeted: false,
        autoSubmitted: undefined,
        template: 'answer',
        now,
        fromName: `${consultantName} (${this.deps.config.supportName})`,
        attachments: files.attach,
        threadRead: link.thread,
        data: {
          consultantName,
          lines: linesOf(text),
          hasAttachments: files.any,
          attachments: files.list,
          caseUrl: link.url,
        },
      });
    }
  }

  protected async closed(uow: UnitOfWork, t: Ticket, actor: string): Promise<void> {
    const now = this.now(uow, t.updatedAt);
    for (const to of await this.customers(uow, t, 'cierre', now)) {
      const url = await this.link(uow, t, to, now);
      await this.deps.outbox.enqueue(uow, {
        key: `case:${t.id}:closed:${t.closedAt ?? now}:${to}`,
        ticket: t,
        kind: 'closed',
        to,
        toName: to === t.requester ? t.requesterName : undefined,
        automatic: true,
        budgeted: true,
        autoSubmitted: 'auto-generated',
        template: 'closed',
        now,
        // Closed by the auto-close job (actor 'sistema', src/jobs/run.ts): the mail says why.
        pick: actor === 'sistema' ? { intro: 'introAuto' } : undefined,
        data: {
          caseUrl: url,
          rateUrl: `${url}#calificar`,
          actor,
          autoCloseDays: this.deps.config.lifecycle.autoClose.afterBusinessDays,
        },
      });
    }
  }

  protected async reopened(uow: UnitOfWork, t: Ticket, actor: string, reason?: string): Promise<void> {
    const now = this.now(uow, t.updatedAt);
    // Rotation (issue 4): links handed out before the case was closed stop working; this mail carries new ones.
    await this.deps.links.revokeCaseLinks(uow, t.id, now, 'reabierto');
    const customers = await this.customers(uow, t, 'reapertura', now);
    const lines = reason ? linesOf(reason) : [];
    for (const to of customers) {
      await this.deps.outbox.enqueue(uow, {
        key: `case:${t.id}:reopened:${now}:${to}`,
        ticket: t,
        kind: 'reopened',
        to,
        toName: to === t.requester ? t.requesterName : undefined,
        automatic: true,
        budgeted: true,
        autoSubmitted: 'auto-generated',
        template: 'reopened',
        now,
        data: { caseUrl: await this.link(uow, t, to, now), hasReason: false, lines },
      });
    }
    if (customers.includes(actor)) {
      // The customer's own mail reopened it: the consultants get that mail, headed "reopened", right after.
      uow.memo(REOPENED_BY).add(t.id);
      return;
    }
    for (const to of this.consultantsFor(t)) {
      await this.deps.outbox.enqueue(uow, {
        key: `case:${t.id}:reopened:${now}:${to}`,
        ticket: t,
        kind: 'reopened',
        to,
        automatic: true,
        budgeted: false,
        autoSubmitted: 'auto-generated',
        template: 'reopened',
        now,
        data: {
          caseUrl: await this.link(uow, t, to, now),
          hasReason: lines.length > 0,
          lines: reason ? [`${actor}: ${reason}`] : [],
        },
      });
    }
  }
}
