import type { UnitOfWork } from '../db/unit-of-work.ts';
import type { LifecycleEvent } from './lifecycle-events.ts';
import type { CaseEvent, Notifier } from './case-events.ts';
import type { MailRejected } from './mail-rejected.ts';
import type { Logger } from '../logger.ts';
import * as repo from '../db/repos/tickets.ts';
import { markAnswersRead } from '../db/repos/status-page.ts';
import { transition, waitingAfterTransition, type TransitionName } from '../tickets/state-machine.ts';
import type { KnowledgeService } from './knowledge.ts';
import { productLabel, type ProductGuess, type ProductMatcher } from '../tickets/products.ts';
import type { Priority, Ticket, WaitingOn } from '../tickets/types.ts';
import { type ParticipantLimits } from './participants.ts';
import { cutText } from '../text-cut.ts';

/**
 * Changes to an existing case (stage, assignee, product, priority, whom it waits on, its people, consultants'
 * commands, reading), each with its event and the notifiers told, inside the caller's unit of work. CaseService
 * (src/services/cases.ts) adds opening cases and adding messages.
 */
export class CaseChanges {
  private readonly notifiers: Notifier[] = [];

  /** `products`: reads the product, module and version from a new case's subject (src/tickets/products.ts). */
  /** `knowledge`: indexes closed cases and publishes articles (src/services/knowledge.ts). */
  /** `participants`: how many people one mail and one case may add (src/services/participants.ts). */
  constructor(
    private readonly log: Logger,
    protected readonly opts: {
      products?: ProductMatcher;
      knowledge?: KnowledgeService;
      participants?: ParticipantLimits;
    } = {},
  ) {}

  protected get limits(): ParticipantLimits {
    return this.opts.participants ?? { perMail: 10, perCase: 25 };
  }

  addNotifier(n: Notifier): void {
    this.notifiers.push(n);
  }

  protected async emit(uow: UnitOfWork, e: CaseEvent): Promise<void> {
    for (const n of this.notifiers) await n.onCaseEvent(uow, e);
  }

  /** For the lifecycle rules (src/services/lifecycle.ts) and the ingest's quarantine: they record their own rows,
   * then tell the notifiers. */
  async publish(uow: UnitOfWork, e: LifecycleEvent | MailRejected): Promise<void> {
    await this.emit(uow, e);
  }

  /**
   * The customer read the status page (issue 4; what counts as reading is src/services/portal.ts's rule): every
   * support answer not read yet, up to `upTo` when given, gets its read time, and the event log says who read how
   * many, so the case file shows when each answer was seen (`mesa show N`).
   */
  async markRead(uow: UnitOfWork, ticket: Ticket, reader: string, now: number, upTo?: number): Promise<number> {
    const ids = await markAnswersRead(uow, ticket.id, now, upTo);
    if (ids.length)
      await repo.insertEvent(uow, {
        ticketId: ticket.id,
        type: 'answers_read',
        actor: reader,
        at: now,
        data: { messages: ids },
      });
    return ids.length;
  }

  async changeStage(
    uow: UnitOfWork,
    ticket: Ticket,
    name: TransitionName,
    actor: string,
    reason: string | undefined,
    now: number,
  ): Promise<Ticket> {
    const change = transition(ticket.stage, name);
    const patch: Record<string, unknown> = { stage: change.to, updated_at: now };
    if (change.to === 'cerrado') patch.closed_at = now;
    if (change.from === 'cerrado') patch.closed_at = null;
    await repo.updateTicket(uow, ticket.id, patch);
    await repo.insertEvent(uow, {
      ticketId: ticket.id,
      type: 'stage_changed',
      actor,
      from: change.from,
      to: change.to,
      reason,
      at: now,
      data: { transition: name },
    });
    let updated: Ticket = {
      ...ticket,
      stage: change.to,
      updatedAt: now,
      closedAt: change.to === 'cerrado' ? now : change.from === 'cerrado' ? undefined : ticket.closedAt,
    };
    // Some stage changes say who the case now waits on (state-machine.ts): logged like any other change.
    const waitingOn = waitingAfterTransition(name, ticket.waitingOn);
    if (waitingOn !== ticket.waitingOn) {
      await repo.updateTicket(uow, ticket.id, { waiting_on: waitingOn });
      await repo.insertEvent(uow, {
        ticketId: ticket.id,
        type: 'waiting_changed',
        actor,
        from: ticket.waitingOn,
        to: waitingOn,
        reason: `etapa ${change.to}`,
        at: now,
      });
      updated = { ...updated, waitingOn };
    }
    this.log.info({ ticket: ticket.number, from: change.from, to: change.to, actor }, 'etapa cambiada');
    if (change.to === 'cerrado') await this.opts.knowledge?.indexSolvedCase(uow, updated);
    await this.emit(uow, { type: 'stage_changed', ticket: updated, from: change.from, to: change.to, actor, reason });
    return updated;
  }

  /** Tells a consultant why their mail did not act (it is kept as an internal note); recorded on the case. */
  async tellConsultant(
    uow: UnitOfWork,
    ticket: Ticket,
    p: { to: string; kind: 'unverified' | 'commands'; items: string[]; messageRowId: number; at: number },
  ): Promise<void> {
    await repo.insertEvent(uow, {
      ticketId: ticket.id,
      type: p.kind === 'unverified' ? 'consultant_unverified' : 'command_rejected',
      actor: p.to,
      reason: cutText(p.items.join('; '), 1000) || undefined,
      at: p.at,
    });
    await this.emit(uow, {
      type: 'consultant_feedback',
      ticket,
      to: p.to,
      kind: p.kind,
      items: p.items,
      messageRowId: p.messageRowId,
    });
  }

  async assign(uow: UnitOfWork, ticket: Ticket, assignee: string, actor: string, now: number): Promise<Ticket> {
    await repo.updateTicket(uow, ticket.id, { assignee, updated_at: now });
    await repo.addParticipants(uow, ticket.id, [{ address: assignee, role: 'consultant' }], now);
    await repo.insertEvent(uow, {
      ticketId: ticket.id,
      type: 'assigned',
      actor,
      from: ticket.assignee,
      to: assignee,
      at: now,
    });
    const updated = { ...ticket, assignee, updatedAt: now };
    await this.emit(uow, { type: 'assigned', ticket: updated, assignee, actor });
    return updated;
  }

  /**
   * The confirmation of a case whose product was unknown asks for it: a short first line of the customer's next
   * mail ("Es de BANCOS", "Módulo Nómina 4.2") answers. Longer text is about the problem, not an answer.
   */
  protected async productFromAnswer(
    uow: UnitOfWork,
    ticket: Ticket,
    message: { bodyText: string; fromAddress?: string },
    now: number,
  ): Promise<Ticket> {
    const first =
      message.bodyText
        .split('\n')
        .map((l) => l.trim())
        .find(Boolean) ?? '';
    if (!this.opts.products || first.split(/\s+/).length > 8) return ticket;
    const guess = this.opts.products.identify(first);
    return guess.product ? this.setProduct(uow, ticket, guess, message.fromAddress ?? ticket.requester, now) : ticket;
  }

  /** Product, module and version of the case (the `/producto` command, or the customer's answer to the ask). */
  async setProduct(
    uow: UnitOfWork,
    ticket: Ticket,
    p: Omit<ProductGuess, 'candidates'>,
    actor: string,
    now: number,
  ): Promise<Ticket> {
    const updated: Ticket = {
      ...ticket,
      product: p.product,
      productModule: p.module,
      productVersion: p.version ?? (p.product === ticket.product ? ticket.productVersion : undefined),
      updatedAt: now,
    };
    await repo.updateTicket(uow, ticket.id, {
      product: updated.product ?? null,
      product_module: updated.productModule ?? null,
      product_version: updated.productVersion ?? null,
      updated_at: now,
    });
    await repo.insertEvent(uow, {
      ticketId: ticket.id,
      type: 'product_changed',
      actor,
      from: productLabel(ticket),
      to: productLabel(updated),
      at: now,
    });
    return updated;
  }

  async setPriority(uow: UnitOfWork, ticket: Ticket, priority: Priority, actor: string, now: number): Promise<Ticket> {
    await repo.updateTicket(uow, ticket.id, { priority, updated_at: now });
    await repo.insertEvent(uow, {
      ticketId: ticket.id,
      type: 'priority_changed',
      actor,
      from: ticket.priority,
      to: priority,
      at: now,
    });
    return { ...ticket, priority, updatedAt: now };
  }

  async setWaitingOn(
    uow: UnitOfWork,
    ticket: Ticket,
    waitingOn: WaitingOn,
    actor: string,
    now: number,
  ): Promise<Ticket> {
    await repo.updateTicket(uow, ticket.id, { waiting_on: waitingOn, updated_at: now });
    await repo.insertEvent(uow, {
      ticketId: ticket.id,
      type: 'waiting_changed',
      actor,
      from: ticket.waitingOn,
      to: waitingOn,
      at: now,
    });
    return { ...ticket, waitingOn, updatedAt: now };
  }
}
