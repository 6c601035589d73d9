import type { UnitOfWork } from '../db/unit-of-work.ts';
import * as repo from '../db/repos/tickets.ts';
import { waitingAfterMessage } from '../tickets/state-machine.ts';
import { productLabel } from '../tickets/products.ts';
import type { Ticket } from '../tickets/types.ts';
import { CaseChanges } from './case-changes.ts';
import type { Command } from '../tickets/commands.ts';
import { addCapped, removeParticipant } from './participants.ts';
import type { AddMessageInput, BounceInfo, OpenCaseInput } from './case-events.ts';
import { cutText } from '../text-cut.ts';

/**
 * The one way cases change. Each method runs inside the caller's transaction and writes the change, its event
 * and (through the notifier, which the outbound side provides) the mail it causes, so that all of it commits or
 * none of it does: the transactional outbox (docs/ARCHITECTURE.md, «Garantías»).
 */
export class CaseService extends CaseChanges {
  /** The case's Message-IDs (its first mail's, the confirmation's, the notices') go to thread_ids in one INSERT. */
  openCase(uow: UnitOfWork, input: OpenCaseInput): Promise<{ ticket: Ticket; messageRowId: number }> {
    return repo.threadIdsTogether(uow, () => this.open(uow, input));
  }

  private async open(uow: UnitOfWork, input: OpenCaseInput): Promise<{ ticket: Ticket; messageRowId: number }> {
    const now = input.message.createdAt;
    const guess = this.opts.products?.identify(input.subject, input.message.bodyText);
    const ticket = await repo.insertNumberedTicket(uow, {
      product: guess?.product,
      productModule: guess?.module,
      productVersion: guess?.version,
      subject: input.subject,
      requester: input.requester,
      requesterName: input.requesterName,
      organization: input.organization,
      category: input.category,
      priority: input.priority,
      stage: 'abierto',
      waitingOn: 'soporte',
      mailbox: input.mailbox,
      relatedNumber: input.related?.number,
      relatedReason: input.related?.reason,
      openedProven: input.proven,
      now,
    });
    await repo.addParticipants(
      uow,
      ticket.id,
      [{ address: input.requester, role: 'requester', addedBy: 'requester' }],
      now,
      { newCase: true },
    );
    // The opening mail's To/Cc: the case is that mail's own, so they belong on it, up to the caps.
    const capped = await addCapped(uow, ticket, input.cc, 'opening', this.limits, input.requester, now, {
      newCase: true,
      onCase: new Set([input.requester]),
    });
    const messageRowId = await repo.insertMessage(uow, { ...input.message, ticketId: ticket.id });
    await repo.addThreadIds(uow, ticket.id, input.threadIds);
    await repo.insertEvent(uow, {
      ticketId: ticket.id,
      type: 'case_opened',
      actor: input.requester,
      to: 'abierto',
      at: now,
      reason: input.related ? `${input.related.reason} #${input.related.number}` : undefined,
      data: {
        priority: input.priority,
        category: input.category,
        product: productLabel(ticket),
        productCandidates: guess?.candidates.length ? guess.candidates : undefined,
      },
    });
    await this.emit(uow, {
      type: 'case_opened',
      ticket,
      messageRowId,
      message: input.message,
      ...(capped ? { capped } : {}),
      ...(input.questionTerms ? { questionTerms: input.questionTerms } : {}),
    });
    return { ticket, messageRowId };
  }

  /**
   * A customer's or consultant's message on an existing case; a customer's reply to a closed case reopens it. A
   * customer's message not proven to come from its sender (`verified: false`) is kept and told to the consultants,
   * but adds nobody and changes nothing of the case (no reopening, no change of whom it waits on). Its
   * Message-IDs and those of the mail it causes go to thread_ids in one INSERT (threadIdsTogether).
   */
  addMessage(
    uow: UnitOfWork,
    ticket: Ticket,
    input: AddMessageInput,
  ): Promise<{ ticket: Ticket; messageRowId: number }> {
    return repo.threadIdsTogether(uow, () => this.add(uow, ticket, input));
  }

  private async add(
    uow: UnitOfWork,
    ticket: Ticket,
    input: AddMessageInput,
  ): Promise<{ ticket: Ticket; messageRowId: number }> {
    const now = input.message.createdAt;
    const role = input.message.role === 'consultant' ? 'consultant' : 'customer';
    const messageRowId = await repo.insertMessage(uow, { ...input.message, ticketId: ticket.id });
    await repo.addThreadIds(uow, ticket.id, input.threadIds);
    const proven = input.message.verified;
    const capped =
      role === 'customer' && proven && input.ccAddedBy
        ? await addCapped(uow, ticket, input.cc, input.ccAddedBy, this.limits, input.message.fromAddress, now)
        : undefined;
    let current = ticket;
    if (input.reopen && proven && ticket.stage === 'cerrado') {
      current = await this.changeStage(
        uow,
        current,
        'reabrir',
        input.message.fromAddress ?? 'cliente',
        'respuesta del cliente a un caso cerrado',
        now,
      );
    }
    if (role === 'customer' && proven && !current.product && !input.message.internal)
      current = await this.productFromAnswer(uow, current, input.message, now);
    if (!input.message.internal && proven) {
      const waitingOn = waitingAfterMessage(role, current.waitingOn);
      const patch: Record<string, unknown> = { updated_at: now };
      if (waitingOn !== current.waitingOn) {
        patch.waiting_on = waitingOn;
        await repo.insertEvent(uow, {
          ticketId: ticket.id,
          type: 'waiting_changed',
          actor: input.message.fromAddress,
          from: current.waitingOn,
          to: waitingOn,
          at: now,
        });
      }
      if (role === 'consultant' && current.firstResponseAt === undefined) patch.first_response_at = now;
      await repo.updateTicket(uow, ticket.id, patch);
      current = {
        ...current,
        waitingOn,
        updatedAt: now,
        firstResponseAt: current.firstResponseAt ?? (role === 'consultant' ? now : undefined),
      };
    }
    await repo.insertEvent(uow, {
      ticketId: ticket.id,
      type: role === 'consultant' ? 'consultant_message' : 'customer_message',
      actor: input.message.fromAddress,
      at: now,
      data: { internal: input.message.internal, ...(proven ? {} : { unverified: true }) },
    });
    await this.emit(uow, {
      type: 'message_added',
      ticket: current,
      messageRowId,
      role,
      internal: input.message.internal,
      message: input.message,
      ...(capped ? { capped } : {}),
    });
    return { ticket: current, messageRowId };
  }

  /** Automatic mail about a case (an out-of-office, a bounce): kept on the case, internal, never reopening it. */
  async addSystemNote(
    uow: UnitOfWork,
    ticket: Ticket,
    message: Omit<repo.NewMessage, 'ticketId'>,
    extra: { bounce?: BounceInfo } = {},
  ): Promise<number> {
    const messageRowId = await repo.insertMessage(uow, {
      ...message,
      ticketId: ticket.id,
      role: 'system',
      internal: true,
    });
    await repo.insertEvent(uow, {
      ticketId: ticket.id,
      type: 'system_note',
      actor: message.fromAddress,
      reason: message.noteKind,
      at: message.createdAt,
    });
    await this.emit(uow, {
      type: 'system_note_added',
      ticket,
      messageRowId,
      noteKind: message.noteKind ?? 'note',
      ...(extra.bounce ? { bounce: extra.bounce } : {}),
    });
    return messageRowId;
  }

  /**
   * A consultant's mail commands (already checked against the state machine by the commands filter), each
   * recorded in the event log with who and when, then applied through the methods above.
   */
  async runCommands(
    uow: UnitOfWork,
    ticket: Ticket,
    commands: readonly Command[],
    actor: string,
    now: number,
  ): Promise<Ticket> {
    let current = ticket;
    for (const c of commands) {
      await repo.insertEvent(uow, {
        ticketId: ticket.id,
        type: 'command',
        actor,
        reason: cutText(c.line, 200),
        at: now,
        data: { kind: c.kind },
      });
      if (c.kind === 'stage')
        current = await this.changeStage(uow, current, c.transition, actor, `comando ${c.line.split(/\s/)[0]}`, now);
      else if (c.kind === 'priority' && c.priority !== current.priority)
        current = await this.setPriority(uow, current, c.priority, actor, now);
      else if (c.kind === 'assign' && c.assignee !== current.assignee)
        current = await this.assign(uow, current, c.assignee, actor, now);
      else if (c.kind === 'waiting' && c.waitingOn !== current.waitingOn)
        current = await this.setWaitingOn(uow, current, c.waitingOn, actor, now);
      else if (c.kind === 'product') current = await this.setProduct(uow, current, c, actor, now);
      else if (c.kind === 'list') await this.emit(uow, { type: 'list_requested', ticket: current, to: actor, at: now });
      else if (c.kind === 'publish')
        await this.opts.knowledge?.publish(uow, current, { title: c.title, text: c.text, actor, now });
      else if (c.kind === 'participants') await this.changeParticipants(uow, current, c.add, c.remove, actor, now);
    }
    return current;
  }

  /**
   * A verified consultant's `/cc +persona@… -otra@…`: the added ones are recorded as added by a consultant (they
   * get the case's mail and may ask for their link); the removed ones lose their links (src/services/participants.ts).
   */
  async changeParticipants(
    uow: UnitOfWork,
    ticket: Ticket,
    add: readonly string[],
    remove: readonly string[],
    actor: string,
    now: number,
  ): Promise<void> {
    for (const address of remove) await removeParticipant(uow, ticket, address, actor, now);
    if (!add.length) return;
    const before = new Set((await repo.participantsOf(uow, ticket.id)).map((p) => p.address));
    await addCapped(uow, ticket, add, 'consultant', { perMail: add.length, perCase: this.limits.perCase }, actor, now);
    for (const p of await repo.participantsOf(uow, ticket.id)) {
      if (!before.has(p.address))
        await repo.insertEvent(uow, {
          ticketId: ticket.id,
          type: 'participant_added',
          actor,
          to: p.address,
          reason: 'comando del consultor',
          at: now,
        });
    }
  }
}
