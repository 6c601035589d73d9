import type { UnitOfWork } from '../db/unit-of-work.ts';
import type { LifecycleEvent } from './lifecycle-events.ts';
import type { MailRejected } from './mail-rejected.ts';
import type { Logger } from '../logger.ts';
import * as repo from '../db/repos/tickets.ts';
import { markAnswersRead } from '../db/repos/status-page.ts';
import { transition, waitingAfterMessage, waitingAfterTransition, type TransitionName } from '../tickets/state-machine.ts';
import type { Command } from '../tickets/commands.ts';
import type { KnowledgeService } from './knowledge.ts';
import { productLabel, type ProductGuess, type ProductMatcher } from '../tickets/products.ts';
import type { ParticipantOrigin, Priority, Ticket, WaitingOn } from '../tickets/types.ts';
import { addCapped, removeParticipant, type CappedNotice, type ParticipantLimits } from './participants.ts';

/**
 * The one way cases change. Each method runs inside the caller's transaction and writes the change, its event
 * and (through the notifier, which the outbound side provides) the mail it causes, so that all of it commits or
 * none of it does: the transactional outbox (docs/ARCHITECTURE.md, «Garantías»).
 */
export type CaseEvent =
  /** `message`: what was just written as row `messageRowId`, so that a notifier need not read it back. */
  /** `capped`: addresses of the mail left off the case by the participant caps (the consultants are told). */
  | { type: 'case_opened'; ticket: Ticket; messageRowId: number; message?: Omit<repo.NewMessage, 'ticketId'>; capped?: CappedNotice }
  | { type: 'message_added'; ticket: Ticket; messageRowId: number; role: 'customer' | 'consultant'; internal: boolean; message?: Omit<repo.NewMessage, 'ticketId'>; capped?: CappedNotice }
  | { type: 'system_note_added'; ticket: Ticket; messageRowId: number; noteKind: string; bounce?: BounceInfo }
  | { type: 'stage_changed'; ticket: Ticket; from: string; to: string; actor: string; reason?: string }
  /** A consultant's mail could not act (unverified sender, command not understood): tell that consultant. */
  | { type: 'consultant_feedback'; ticket: Ticket; to: string; kind: 'unverified' | 'commands'; items: string[]; messageRowId: number }
  | { type: 'assigned'; ticket: Ticket; assignee: string; actor: string }
  /** A consultant's `/lista`: mail them their link to the consultants' list. */
  | { type: 'list_requested'; ticket: Ticket; to: string; at: number }
  /** Auto-close warnings, SLA light changes, held requests, digests: see lifecycle-events.ts. */
  | LifecycleEvent
  /** A mail refused and quarantined by the ingest: see mail-rejected.ts. */
  | MailRejected;

/**
 * A bounce of our own mail: `hard` (RFC 3463 class 5), `addressGone` (the address itself does not exist, not only
 * this message refused: see classifyBounce), the addresses it names as failed AND proves we sent the returned mail
 * to (`recipients`, see src/inbound/filters/bounce-proof.ts), and those it names without that proof (`unproven`:
 * recorded, never acted on).
 */
export type BounceInfo = { hard: boolean; addressGone: boolean; recipients: string[]; unproven: string[]; status?: string };

export interface Notifier {
  onCaseEvent(uow: UnitOfWork, event: CaseEvent): Promise<void>;
}

export interface OpenCaseInput {
  subject: string;
  requester: string;
  requesterName?: string;
  organization: string;
  priority: Priority;
  category?: string;
  mailbox?: string;
  related?: { number: number; reason: string };
  cc: string[];
  message: Omit<repo.NewMessage, 'ticketId'>;
  threadIds: string[];
}

export interface AddMessageInput {
  message: Omit<repo.NewMessage, 'ticketId'>;
  /** Added to the case only with `ccAddedBy`: a customer's follow-up whose origin was proven (how, recorded). */
  cc: string[];
  ccAddedBy?: ParticipantOrigin;
  threadIds: string[];
  reopen: boolean;
}

export class CaseService {
  private notifiers: Notifier[] = [];

  /** `products`: reads the product, module and version from a new case's subject (src/tickets/products.ts). */
  /** `knowledge`: indexes closed cases and publishes articles (src/services/knowledge.ts). */
  /** `participants`: how many people one mail and one case may add (src/services/participants.ts). */
  constructor(
    private readonly log: Logger,
    private readonly opts: { products?: ProductMatcher; knowledge?: KnowledgeService; participants?: ParticipantLimits } = {},
  ) {}

  private get limits(): ParticipantLimits {
    return this.opts.participants ?? { perMail: 10, perCase: 25 };
  }

  addNotifier(n: Notifier): void {
    this.notifiers.push(n);
  }

  private async emit(uow: UnitOfWork, e: CaseEvent): Promise<void> {
    for (const n of this.notifiers) await n.onCaseEvent(uow, e);
  }

  /** For the lifecycle rules (src/services/lifecycle.ts) and the ingest's quarantine: they record their own rows,
   * then tell the notifiers. */
  async publish(uow: UnitOfWork, e: LifecycleEvent | MailRejected): Promise<void> {
    await this.emit(uow, e);
  }

  /** The case's Message-IDs (its first mail's, the confirmation's, the notices') go to thread_ids in one INSERT. */
  openCase(uow: UnitOfWork, input: OpenCaseInput): Promise<{ ticket: Ticket; messageRowId: number }> {
    return repo.threadIdsTogether(uow, () => this.open(uow, input));
  }

  private async open(uow: UnitOfWork, input: OpenCaseInput): Promise<{ ticket: Ticket; messageRowId: number }> {
    const now = input.message.createdAt;
    const number = await repo.nextTicketNumber(uow);
    const guess = this.opts.products?.identify(input.subject, input.message.bodyText);
    const ticket = await repo.insertTicket(uow, {
      product: guess?.product, productModule: guess?.module, productVersion: guess?.version,
      number, subject: input.subject, requester: input.requester, requesterName: input.requesterName,
      organization: input.organization, category: input.category, priority: input.priority, stage: 'abierto',
      waitingOn: 'soporte', mailbox: input.mailbox, relatedNumber: input.related?.number,
      relatedReason: input.related?.reason, now,
    });
    await repo.addParticipants(uow, ticket.id, [{ address: input.requester, role: 'requester', addedBy: 'requester' }], now, { newCase: true });
    // The opening mail's To/Cc: the case is that mail's own, so they belong on it, up to the caps.
    const capped = await addCapped(uow, ticket, input.cc, 'opening', this.limits, input.requester, now, { newCase: true, onCase: new Set([input.requester]) });
    const messageRowId = await repo.insertMessage(uow, { ...input.message, ticketId: ticket.id });
    await repo.addThreadIds(uow, ticket.id, input.threadIds);
    await repo.insertEvent(uow, {
      ticketId: ticket.id, type: 'case_opened', actor: input.requester, to: 'abierto', at: now,
      reason: input.related ? `${input.related.reason} #${input.related.number}` : undefined,
      data: { priority: input.priority, category: input.category, product: productLabel(ticket), productCandidates: guess?.candidates.length ? guess.candidates : undefined },
    });
    await this.emit(uow, { type: 'case_opened', ticket, messageRowId, message: input.message, ...(capped ? { capped } : {}) });
    return { ticket, messageRowId };
  }

  /**
   * A customer's or consultant's message on an existing case; a customer's reply to a closed case reopens it. A
   * customer's message not proven to come from its sender (`verified: false`) is kept and told to the consultants,
   * but adds nobody and changes nothing of the case (no reopening, no change of whom it waits on). Its
   * Message-IDs and those of the mail it causes go to thread_ids in one INSERT (threadIdsTogether).
   */
  addMessage(uow: UnitOfWork, ticket: Ticket, input: AddMessageInput): Promise<{ ticket: Ticket; messageRowId: number }> {
    return repo.threadIdsTogether(uow, () => this.add(uow, ticket, input));
  }

  private async add(uow: UnitOfWork, ticket: Ticket, input: AddMessageInput): Promise<{ ticket: Ticket; messageRowId: number }> {
    const now = input.message.createdAt;
    const role = input.message.role === 'consultant' ? 'consultant' : 'customer';
    const messageRowId = await repo.insertMessage(uow, { ...input.message, ticketId: ticket.id });
    await repo.addThreadIds(uow, ticket.id, input.threadIds);
    const proven = input.message.verified;
    const capped = role === 'customer' && proven && input.ccAddedBy
      ? await addCapped(uow, ticket, input.cc, input.ccAddedBy, this.limits, input.message.fromAddress, now)
      : undefined;
    let current = ticket;
    if (input.reopen && proven && ticket.stage === 'cerrado') {
      current = await this.changeStage(uow, current, 'reabrir', input.message.fromAddress ?? 'cliente', 'respuesta del cliente a un caso cerrado', now);
    }
    if (role === 'customer' && proven && !current.product && !input.message.internal) current = await this.productFromAnswer(uow, current, input.message, now);
    if (!input.message.internal && proven) {
      const waitingOn = waitingAfterMessage(role, current.waitingOn);
      const patch: Record<string, unknown> = { updated_at: now };
      if (waitingOn !== current.waitingOn) {
        patch.waiting_on = waitingOn;
        await repo.insertEvent(uow, { ticketId: ticket.id, type: 'waiting_changed', actor: input.message.fromAddress, from: current.waitingOn, to: waitingOn, at: now });
      }
      if (role === 'consultant' && current.firstResponseAt === undefined) patch.first_response_at = now;
      await repo.updateTicket(uow, ticket.id, patch);
      current = { ...current, waitingOn, updatedAt: now, firstResponseAt: current.firstResponseAt ?? (role === 'consultant' ? now : undefined) };
    }
    await repo.insertEvent(uow, { ticketId: ticket.id, type: role === 'consultant' ? 'consultant_message' : 'customer_message', actor: input.message.fromAddress, at: now, data: { internal: input.message.internal, ...(proven ? {} : { unverified: true }) } });
    await this.emit(uow, { type: 'message_added', ticket: current, messageRowId, role, internal: input.message.internal, message: input.message, ...(capped ? { capped } : {}) });
    return { ticket: current, messageRowId };
  }

  /** Automatic mail about a case (an out-of-office, a bounce): kept on the case, internal, never reopening it. */
  async addSystemNote(uow: UnitOfWork, ticket: Ticket, message: Omit<repo.NewMessage, 'ticketId'>, extra: { bounce?: BounceInfo } = {}): Promise<number> {
    const messageRowId = await repo.insertMessage(uow, { ...message, ticketId: ticket.id, role: 'system', internal: true });
    await repo.insertEvent(uow, { ticketId: ticket.id, type: 'system_note', actor: message.fromAddress, reason: message.noteKind, at: message.createdAt });
    await this.emit(uow, { type: 'system_note_added', ticket, messageRowId, noteKind: message.noteKind ?? 'note', ...(extra.bounce ? { bounce: extra.bounce } : {}) });
    return messageRowId;
  }

  /**
   * The customer read the status page (issue 4; what counts as reading is src/services/portal.ts's rule): every
   * support answer not read yet, up to `upTo` when given, gets its read time, and the event log says who read how
   * many, so the case file shows when each answer was seen (`mesa show N`).
   */
  async markRead(uow: UnitOfWork, ticket: Ticket, reader: string, now: number, upTo?: number): Promise<number> {
    const ids = await markAnswersRead(uow, ticket.id, now, upTo);
    if (ids.length) await repo.insertEvent(uow, { ticketId: ticket.id, type: 'answers_read', actor: reader, at: now, data: { messages: ids } });
    return ids.length;
  }

  async changeStage(uow: UnitOfWork, ticket: Ticket, name: TransitionName, actor: string, reason: string | undefined, now: number): Promise<Ticket> {
    const change = transition(ticket.stage, name);
    const patch: Record<string, unknown> = { stage: change.to, updated_at: now };
    if (change.to === 'cerrado') patch.closed_at = now;
    if (change.from === 'cerrado') patch.closed_at = null;
    await repo.updateTicket(uow, ticket.id, patch);
    await repo.insertEvent(uow, { ticketId: ticket.id, type: 'stage_changed', actor, from: change.from, to: change.to, reason, at: now, data: { transition: name } });
    let updated: Ticket = { ...ticket, stage: change.to, updatedAt: now, closedAt: change.to === 'cerrado' ? now : change.from === 'cerrado' ? undefined : ticket.closedAt };
    // Some stage changes say who the case now waits on (state-machine.ts): logged like any other change.
    const waitingOn = waitingAfterTransition(name, ticket.waitingOn);
    if (waitingOn !== ticket.waitingOn) {
      await repo.updateTicket(uow, ticket.id, { waiting_on: waitingOn });
      await repo.insertEvent(uow, { ticketId: ticket.id, type: 'waiting_changed', actor, from: ticket.waitingOn, to: waitingOn, reason: `etapa ${change.to}`, at: now });
      updated = { ...updated, waitingOn };
    }
    this.log.info({ ticket: ticket.number, from: change.from, to: change.to, actor }, 'etapa cambiada');
    if (change.to === 'cerrado') await this.opts.knowledge?.indexSolvedCase(uow, updated);
    await this.emit(uow, { type: 'stage_changed', ticket: updated, from: change.from, to: change.to, actor, reason });
    return updated;
  }

  /** Tells a consultant why their mail did not act (it is kept as an internal note); recorded on the case. */
  async tellConsultant(uow: UnitOfWork, ticket: Ticket, p: { to: string; kind: 'unverified' | 'commands'; items: string[]; messageRowId: number; at: number }): Promise<void> {
    await repo.insertEvent(uow, { ticketId: ticket.id, type: p.kind === 'unverified' ? 'consultant_unverified' : 'command_rejected', actor: p.to, reason: p.items.join('; ').slice(0, 1000) || undefined, at: p.at });
    await this.emit(uow, { type: 'consultant_feedback', ticket, to: p.to, kind: p.kind, items: p.items, messageRowId: p.messageRowId });
  }

  async assign(uow: UnitOfWork, ticket: Ticket, assignee: string, actor: string, now: number): Promise<Ticket> {
    await repo.updateTicket(uow, ticket.id, { assignee, updated_at: now });
    await repo.addParticipants(uow, ticket.id, [{ address: assignee, role: 'consultant' }], now);
    await repo.insertEvent(uow, { ticketId: ticket.id, type: 'assigned', actor, from: ticket.assignee, to: assignee, at: now });
    const updated = { ...ticket, assignee, updatedAt: now };
    await this.emit(uow, { type: 'assigned', ticket: updated, assignee, actor });
    return updated;
  }

  /**
   * The confirmation of a case whose product was unknown asks for it: a short first line of the customer's next
   * mail ("Es de BANCOS", "Módulo Nómina 4.2") answers. Longer text is about the problem, not an answer.
   */
  private async productFromAnswer(uow: UnitOfWork, ticket: Ticket, message: { bodyText: string; fromAddress?: string }, now: number): Promise<Ticket> {
    const first = message.bodyText.split('\n').map((l) => l.trim()).find(Boolean) ?? '';
    if (!this.opts.products || first.split(/\s+/).length > 8) return ticket;
    const guess = this.opts.products.identify(first);
    return guess.product ? this.setProduct(uow, ticket, guess, message.fromAddress ?? ticket.requester, now) : ticket;
  }

  /** Product, module and version of the case (the `/producto` command, or the customer's answer to the ask). */
  async setProduct(uow: UnitOfWork, ticket: Ticket, p: Omit<ProductGuess, 'candidates'>, actor: string, now: number): Promise<Ticket> {
    const updated: Ticket = { ...ticket, product: p.product, productModule: p.module, productVersion: p.version ?? (p.product === ticket.product ? ticket.productVersion : undefined), updatedAt: now };
    await repo.updateTicket(uow, ticket.id, { product: updated.product ?? null, product_module: updated.productModule ?? null, product_version: updated.productVersion ?? null, updated_at: now });
    await repo.insertEvent(uow, { ticketId: ticket.id, type: 'product_changed', actor, from: productLabel(ticket), to: productLabel(updated), at: now });
    return updated;
  }

  async setPriority(uow: UnitOfWork, ticket: Ticket, priority: Priority, actor: string, now: number): Promise<Ticket> {
    await repo.updateTicket(uow, ticket.id, { priority, updated_at: now });
    await repo.insertEvent(uow, { ticketId: ticket.id, type: 'priority_changed', actor, from: ticket.priority, to: priority, at: now });
    return { ...ticket, priority, updatedAt: now };
  }

  async setWaitingOn(uow: UnitOfWork, ticket: Ticket, waitingOn: WaitingOn, actor: string, now: number): Promise<Ticket> {
    await repo.updateTicket(uow, ticket.id, { waiting_on: waitingOn, updated_at: now });
    await repo.insertEvent(uow, { ticketId: ticket.id, type: 'waiting_changed', actor, from: ticket.waitingOn, to: waitingOn, at: now });
    return { ...ticket, waitingOn, updatedAt: now };
  }

  /**
   * A consultant's mail commands (already checked against the state machine by the commands filter), each
   * recorded in the event log with who and when, then applied through the methods above.
   */
  async runCommands(uow: UnitOfWork, ticket: Ticket, commands: readonly Command[], actor: string, now: number): Promise<Ticket> {
    let current = ticket;
    for (const c of commands) {
      await repo.insertEvent(uow, { ticketId: ticket.id, type: 'command', actor, reason: c.line.slice(0, 200), at: now, data: { kind: c.kind } });
      if (c.kind === 'stage') current = await this.changeStage(uow, current, c.transition, actor, `comando ${c.line.split(/\s/)[0]}`, now);
      else if (c.kind === 'priority' && c.priority !== current.priority) current = await this.setPriority(uow, current, c.priority, actor, now);
      else if (c.kind === 'assign' && c.assignee !== current.assignee) current = await this.assign(uow, current, c.assignee, actor, now);
      else if (c.kind === 'waiting' && c.waitingOn !== current.waitingOn) current = await this.setWaitingOn(uow, current, c.waitingOn, actor, now);
      else if (c.kind === 'product') current = await this.setProduct(uow, current, c, actor, now);
      else if (c.kind === 'list') await this.emit(uow, { type: 'list_requested', ticket: current, to: actor, at: now });
      else if (c.kind === 'publish') await this.opts.knowledge?.publish(uow, current, { title: c.title, text: c.text, actor, now });
      else if (c.kind === 'participants') await this.changeParticipants(uow, current, c.add, c.remove, actor, now);
    }
    return current;
  }

  /**
   * A verified consultant's `/cc +persona@… -otra@…`: the added ones are recorded as added by a consultant (they
   * get the case's mail and may ask for their link); the removed ones lose their links (src/services/participants.ts).
   */
  async changeParticipants(uow: UnitOfWork, ticket: Ticket, add: readonly string[], remove: readonly string[], actor: string, now: number): Promise<void> {
    for (const address of remove) await removeParticipant(uow, ticket, address, actor, now);
    if (!add.length) return;
    const before = new Set((await repo.participantsOf(uow, ticket.id)).map((p) => p.address));
    await addCapped(uow, ticket, add, 'consultant', { perMail: add.length, perCase: this.limits.perCase }, actor, now);
    for (const p of await repo.participantsOf(uow, ticket.id)) {
      if (!before.has(p.address)) await repo.insertEvent(uow, { ticketId: ticket.id, type: 'participant_added', actor, to: p.address, reason: 'comando del consultor', at: now });
    }
  }
}
