import type { UnitOfWork } from '../db/unit-of-work.ts';
import type { Logger } from '../logger.ts';
import * as life from '../db/repos/lifecycle.ts';
import { insertEvent } from '../db/repos/tickets.ts';
import type { Policy } from '../policy/policy.ts';
import type { Light } from '../tickets/sla.ts';
import type { Ticket } from '../tickets/types.ts';
import type { CaseService } from './cases.ts';
import type { OpenCaseInput } from './case-events.ts';

/**
 * The lifecycle rules that write: holding a request back (limit, entitlement), releasing it, the auto-close
 * warning and closing, and recording SLA light changes. Each runs inside the caller's transaction, records its
 * row or event, and tells the notifiers through CaseService (so the mail is in the same commit).
 */
export class LifecycleService {
  constructor(private readonly deps: { cases: CaseService; policy: Policy; logger: Logger }) {}

  private get log(): Logger {
    return this.deps.logger;
  }

  /** Keeps a mail that would have opened a case, and tells the notifiers so the sender gets a polite refusal. */
  async holdRequest(
    uow: UnitOfWork,
    input: OpenCaseInput,
    reason: life.HeldRequest['reason'],
    now: number,
  ): Promise<life.HeldRequest> {
    const held = await life.insertHeld(uow, {
      organization: input.organization,
      requester: input.requester,
      reason,
      subject: input.subject,
      messageId: input.message.messageId,
      rawSha256: input.message.rawSha256,
      caseJson: JSON.stringify(input),
      createdAt: now,
    });
    const openCases = reason === 'over_limit' ? await life.openTicketsOf(uow, input.organization) : [];
    this.log.info({ held: held.id, organization: input.organization, reason }, 'solicitud retenida');
    await this.deps.cases.publish(uow, {
      type: 'request_held',
      held,
      to: input.requester,
      toName: input.requesterName,
      subject: input.subject,
      reason,
      openCases,
      limit: reason === 'over_limit' ? this.deps.policy.maxOpenCases(input.organization) : undefined,
    });
    return held;
  }

  /** Opens a held request as the case it would have been; false when another runner got it first. */
  async openHeld(uow: UnitOfWork, held: life.HeldRequest, now: number): Promise<Ticket | undefined> {
    const input = heldCase(held);
    // The case starts now (its SLA too); the message keeps the time the mail arrived.
    const { ticket } = await this.deps.cases.openCase(uow, { ...input, message: { ...input.message, createdAt: now } });
    if (!(await life.markHeldOpened(uow, held.id, ticket.id, now))) throw new HeldAlreadyResolved();
    await insertEvent(uow, {
      ticketId: ticket.id,
      type: 'held_released',
      actor: 'sistema',
      reason: `solicitud retenida #${held.id} (${held.reason})`,
      at: now,
      data: { heldAt: held.createdAt },
    });
    return ticket;
  }

  async warnAutoClose(
    uow: UnitOfWork,
    ticket: Ticket,
    plan: { waitingSince: number; closeAt: number },
    now: number,
  ): Promise<void> {
    await insertEvent(uow, {
      ticketId: ticket.id,
      type: 'autoclose_warning',
      actor: 'sistema',
      reason: 'aviso de cierre automático',
      at: now,
      data: { closeAt: plan.closeAt, waitingSince: plan.waitingSince },
    });
    await this.deps.cases.publish(uow, {
      type: 'autoclose_warning',
      ticket,
      closeAt: plan.closeAt,
      waitingSince: plan.waitingSince,
      at: now,
    });
  }

  async autoClose(uow: UnitOfWork, ticket: Ticket, days: number, now: number): Promise<Ticket> {
    const span = `${days} ${days === 1 ? 'día hábil' : 'días hábiles'}`;
    const reason = `cierre automático: ${span} esperando respuesta del cliente`;
    return this.deps.cases.changeStage(uow, ticket, 'cerrar', 'sistema', reason, now);
  }

  async recordLight(
    uow: UnitOfWork,
    ticket: Ticket,
    from: Light | undefined,
    to: Light,
    dueAt: number | undefined,
    now: number,
  ): Promise<void> {
    await life.setSlaLight(uow, ticket.id, to);
    await insertEvent(uow, {
      ticketId: ticket.id,
      type: 'sla_changed',
      actor: 'sistema',
      from,
      to,
      at: now,
      data: dueAt ? { dueAt } : undefined,
    });
    await this.deps.cases.publish(uow, { type: 'sla_changed', ticket, from, to, dueAt });
  }
}

export class HeldAlreadyResolved extends Error {
  constructor() {
    super('la solicitud retenida ya fue resuelta por otro proceso');
  }
}

/** The case a held request would open. Held before the open-case limit told proven senders apart: counted as proven,
 * as the cases opened before it (migrations/20261207000300_tickets_opened_proven.ts). */
export function heldCase(held: life.HeldRequest): OpenCaseInput {
  return { proven: true, ...(JSON.parse(held.caseJson) as Partial<OpenCaseInput>) } as OpenCaseInput;
}
