import type { Config } from '../config.ts';
import { memoKey, type UnitOfWork } from '../db/unit-of-work.ts';
import * as outbox from '../db/repos/outbox.ts';
import { addThreadIds, insertEvent, threadIdsTogether } from '../db/repos/tickets.ts';
import { loopToken } from '../mail/loop-token.ts';
import type { Logger } from '../logger.ts';
import { cleanSubject, noSubject } from '../tickets/subject.ts';
import type { Ticket } from '../tickets/types.ts';
import { automaticHeaders, bracket, threadIndex, type AutoSubmitted } from './headers.ts';
import { makeMessageId } from '../mail/message-id.ts';
import type { Locale, TemplateName, TemplateRenderer } from './templates.ts';
import { describeHours } from '../tickets/hours-text.ts';
import { boundedMemo } from '../memo.ts';
import { openLinks, sealLinks, type LinkKeys } from '../links/sealed.ts';
import { rememberEnqueued, threadOf, type CaseMessage, type ThreadRead } from './outbox-thread.ts';

/**
 * Writes mail into the outbox inside the caller's transaction: everything the mail says is fixed now (its data, links,
 * Message-ID, threading and headers) and stored with the template's name; the dispatcher renders it when it sends
 * (`contentOf`), so a retry sends the very same mail. Links are stored sealed (src/links/sealed.ts): what rebuilds them
 * with SECRET_KEY, never the token, so the outbox gives no way into a case. Rendering at enqueue time would cost the
 * ingest path CPU and a full rendered row per mail; the stored intent is small (docs/performance.md). Under an
 * idempotency key (one event never enqueues the same mail twice), and subject to the loop budget: automatic mail to one
 * address is capped per window and per day, and stopped for a while after that address hard-bounced. Held mail is kept
 * (state `held`) with the reason, also on the case.
 */
export interface MailRequest {
  key: string;
  ticket?: Ticket;
  kind: string;
  to: string;
  toName?: string;
  /** Automatic mail (not a person's words) is subject to the bounce stop. */
  automatic: boolean;
  /** ...and, when budgeted, to the per-recipient limits (the loop budget). It counts and holds automatic mail to
   * customers only: mail to a consultant is never held by it, whatever this says. */
  budgeted: boolean;
  /** A notice to a consultant about mail in their name (someone wrote as them, their command failed, their mailbox
   * bounced): never held by the loop budget, which an attacker could fill, but limited per consultant and hour
   * (DESK_ALERTS_PER_HOUR) so that nobody can mail-bomb the desk through them. Its kind is one of DESK_ALERT_KINDS. */
  alert?: boolean;
  template: TemplateName;
  data: Record<string, unknown>;
  pick?: Record<string, string>;
  fromName?: string;
  autoSubmitted: AutoSubmitted;
  attachments?: Array<{ filename: string; contentType: string; sha256: string }>;
  /** For mail not on a case (refusals): the mail it answers. */
  inReplyTo?: string;
  subject?: string;
  now: number;
  /** Every message of the case, when the caller knows them all (a case opened in this same transaction has just
   * its first): threading then reads them from here instead of the database. */
  caseMessages?: readonly CaseMessage[];
  /** The mail's thread as read with its link just before (readWithLink): threading does not read it again. */
  threadRead?: ThreadRead;
}

export type EnqueueResult = {
  state: 'pending' | 'held' | 'duplicate';
  /** The row's id; none for a row that waits for the ingest batch's flush (letOutboxWait). */
  id?: number;
  messageId: string;
  heldReason?: string;
};

/** A case's subject as every mail of it shows it: cleanSubject() of the same few subjects, again and again. */
const topicOf = boundedMemo(1000, (subject: string) => subject, cleanSubject);

const MINUTE = 60_000;
const HOUR = 3_600_000;

/** The kinds of mail the desk's alert limit counts (MailRequest.alert). */
export const DESK_ALERT_KINDS = ['notice_unverified', 'notice_commands', 'alert_bounce'] as const;
const DAY = 86_400_000;

/**
 * For the whole unit of work (a batch of mail in group commit), the addresses found without a bounce stop, with the
 * earliest time asked about: none can be in force at that time or later (a stop only ends), unless this transaction
 * writes one, so every consultant notice of a batch need not ask again. `null` once suppress() ran in it: from then
 * on every mail asks.
 */
const UNSTOPPED = memoKey<Map<string, number> | null>(
  'outbox.unstopped',
  () => new Map(),
  (parent) => (parent ? new Map(parent) : null),
);

export class Outbox {
  private readonly domain: string;
  private readonly loop: string;
  private readonly keys: LinkKeys;
  private committed?: () => void;
  /** describeHours() of the calendar, for describedHours(). */
  private described?: { hours: object; text: string };
  /** How the loop budget asks about the senders of the ingest batch's mails ahead (loopBudgetOf). */
  private readonly ahead: outbox.AheadSpans;

  /** `clock`: the dispatcher's (when a mail may leave); a mail's own time (`now`) is the case change's. */
  constructor(
    private readonly deps: { config: Config; renderer: TemplateRenderer; log: Logger; clock?: () => number },
  ) {
    this.domain = deps.config.supportAddress.split('@')[1];
    this.loop = loopToken(deps.config);
    this.keys = { secretKey: deps.config.secretKey, publicUrl: deps.config.publicUrl };
    const { budget } = deps.config.outbound;
    this.ahead = { window: budget.windowMinutes * MINUTE, day: DAY, never: (address) => this.isDesk(address) };
  }

  /** The desk's own addresses: never budgeted, never stopped by a bounce. */
  private isDesk(address: string): boolean {
    const { config } = this.deps;
    return (
      address === config.supportAddress || address === config.fallbackAddress || config.consultants.includes(address)
    );
  }

  /** Called after the unit of work that enqueued mail commits (UnitOfWork.afterCommit). */
  onCommitted(listener: () => void): void {
    this.committed = listener;
  }

  async enqueue(uow: UnitOfWork, r: MailRequest): Promise<EnqueueResult> {
    const { config, renderer } = this.deps;
    const to = r.to.toLowerCase();
    const heldReason = r.automatic ? await this.holdReason(uow, to, r, r.now) : undefined;
    const messageId = makeMessageId(config.secretKey, this.domain, r.ticket?.number ?? 0, to);
    // BUSINESS_HOURS overrides; otherwise the hours the SLA clocks count (src/tickets/hours-text.ts).
    const hours = config.outbound.businessHours ?? this.describedHours();
    const data = {
      brand: config.supportName,
      hours,
      name: r.toName || to.split('@')[0],
      ...(r.ticket ? { number: r.ticket.number, subject: r.ticket.subject || noSubject(config.locale) } : {}),
      ...sealLinks(r.data, this.keys, to),
    };
    // Every mail of a case carries the same `[Caso #N] subject`: Gmail threads only mail whose subjects agree.
    const topic = r.ticket ? topicOf(r.ticket.subject) : '';
    const subject =
      r.subject ??
      (r.ticket
        ? `[${config.locale === 'en' ? 'Case' : 'Caso'} #${r.ticket.number}] ${topic || noSubject(config.locale)}`
        : renderer.subject(r.template, config.locale, data, r.pick));
    const thread = r.ticket
      ? await threadOf(uow, r.ticket, to, r.caseMessages, r.threadRead)
      : { references: r.inReplyTo ? [r.inReplyTo] : [], inReplyTo: r.inReplyTo };
    const headers = automaticHeaders(r.autoSubmitted, this.loop);
    if (r.ticket) {
      headers['Thread-Topic'] = topic || subject;
      headers['Thread-Index'] = threadIndex(config.secretKey, r.ticket.number, r.ticket.createdAt, r.now);
      headers['X-Mesa-Case'] = String(r.ticket.number);
    }
    const mail: outbox.StoredMail = {
      from: { name: r.fromName ?? config.supportName, address: config.supportAddress },
      replyTo: config.supportAddress,
      to,
      subject,
      render: { template: r.template, locale: config.locale, data, ...(r.pick ? { pick: r.pick } : {}) },
      inReplyTo: thread.inReplyTo ? bracket(thread.inReplyTo) : undefined,
      references: thread.references.map(bracket),
      headers,
      attachments: r.attachments ?? [],
    };
    const id = await outbox.insertOutbox(uow, {
      idempotencyKey: r.key,
      ticketId: r.ticket?.id,
      kind: r.kind,
      recipient: to,
      automatic: r.automatic,
      messageId,
      mail,
      state: heldReason ? 'held' : 'pending',
      heldReason,
      now: r.now,
      // Due at once. `now` may be a simulated time (`mesa jobs --now`, in the future): it decides what the mail
      // says and how it counts, not when it leaves; a mail due at a future `now` would wait until that moment.
      dueAt: Math.min(r.now, (this.deps.clock ?? Date.now)()),
    });
    // 'waiting': the ingest batch writes the row with its others (its id is not known yet); new all the same.
    if (id === undefined) return { state: 'duplicate', messageId };
    if (r.ticket && !heldReason) {
      rememberEnqueued(uow, r.ticket.id, to, messageId, r.now);
    }
    if (r.ticket) {
      await addThreadIds(uow, r.ticket.id, [messageId]);
      if (heldReason)
        await insertEvent(uow, {
          ticketId: r.ticket.id,
          type: 'mail_held',
          actor: 'mesa',
          to,
          reason: heldReason,
          at: r.now,
          data: { kind: r.kind },
        });
    }
    // After the outermost commit (a savepoint's release is not one): the dispatcher may send it from then on.
    if (!heldReason && this.committed) uow.afterCommit(this.committed);
    if (heldReason)
      this.deps.log.warn({ ticket: r.ticket?.number, kind: r.kind, reason: heldReason }, 'correo automático retenido');
    return { state: heldReason ? 'held' : 'pending', id: id === 'waiting' ? undefined : id, messageId, heldReason };
  }

  /**
   * Runs `fn`, which enqueues the mail of one event (a new case: the confirmation and a notice per consultant),
   * and then records their Message-IDs in thread_ids with one INSERT per case instead of one per mail
   * (threadIdsTogether; inside a case change that already runs so, they join its INSERT).
   */
  together<T>(uow: UnitOfWork, fn: () => Promise<T>): Promise<T> {
    return threadIdsTogether(uow, fn);
  }

  /** The calendar's hours in words, worked out once per calendar (the config is frozen; this is per mail). */
  private describedHours(): string {
    const { hours } = this.deps.config.lifecycle.calendar;
    if (this.described?.hours !== hours)
      this.described = { hours, text: describeHours(hours, this.deps.config.locale) };
    return this.described.text;
  }

  /** Stops automatic mail to an address after a hard bounce (see `unstopped`). */
  async suppress(uow: UnitOfWork, s: Parameters<typeof outbox.suppress>[1]): Promise<void> {
    uow.setMemo(UNSTOPPED, null);
    await outbox.suppress(uow, s);
  }

  private async holdReason(
    uow: UnitOfWork,
    to: string,
    r: Pick<MailRequest, 'budgeted' | 'alert'>,
    now: number,
  ): Promise<string | undefined> {
    const { config } = this.deps;
    const { budget, deskAlertsPerHour } = config.outbound;
    const desk = this.isDesk(to);
    // The loop budget guards customers' mailboxes (and us) from a loop with an auto-responder. The desk's own
    // notices never count against it, so that the alerts a spoofer provokes are not what holds the next one. And a
    // bounce never stops mail to the desk (bounce-effects.ts): not even a stop recorded before that rule.
    const budgeted = r.budgeted && !r.alert && !desk;
    const seen = uow.memo(UNSTOPPED);
    const askStop = !desk && !(seen && (seen.get(to) ?? Infinity) <= now);
    let suppressed: string | undefined;
    let inWindow = 0;
    let inDay = 0;
    if (!budgeted) {
      if (askStop) suppressed = (await outbox.findSuppression(uow, to, now))?.reason;
    } else {
      // The bounce stop (unless known) and both windows in one query, with the batch's senders ahead (or from it).
      ({ suppressed, inWindow, inDay } = await outbox.loopBudgetOf(
        uow,
        to,
        now - budget.windowMinutes * MINUTE,
        now - DAY,
        askStop ? now : undefined,
        this.ahead,
      ));
    }
    if (suppressed !== undefined) return outbox.bounceHoldReason(suppressed);
    if (askStop && seen) seen.set(to, Math.min(seen.get(to) ?? Infinity, now));
    if (r.alert) {
      const sent = await outbox.countRecentOfKinds(uow, to, DESK_ALERT_KINDS, now - HOUR);
      return sent >= deskAlertsPerHour ? `limite: ${deskAlertsPerHour} avisos por hora` : undefined;
    }
    if (!budgeted) return undefined;
    if (inWindow >= budget.window) return `limite: ${budget.window} en ${budget.windowMinutes} min`;
    if (inDay >= budget.day) return `limite: ${budget.day} al dia`;
    return undefined;
  }
}

/** The HTML and text of a stored mail: rendered from its template and data, its sealed links opened again with the
 * key (`keys`), or as stored by older versions. */
export function contentOf(
  mail: outbox.StoredMail,
  renderer: TemplateRenderer,
  keys: LinkKeys,
): { html: string; text: string } {
  if (!mail.render) return { html: mail.html ?? '', text: mail.text ?? '' };
  const { template, locale, data, pick } = mail.render;
  const rendered = renderer.render(template as TemplateName, locale as Locale, openLinks(data, keys, mail.to), pick);
  return { html: rendered.html, text: rendered.text };
}
