import { type UnitOfWork } from '../db/unit-of-work.ts';
import { lastCustomerMessage } from '../db/repos/messages.ts';
import type { CaseEvent, Notifier } from '../services/case-events.ts';
import type { CappedNotice } from '../services/participants.ts';
import { enqueueListLink } from './consultant-extras.ts';
import { productLabel } from '../tickets/products.ts';
import { caseQuestion, queryTerms } from '../tickets/search-text.ts';
import { SUBJECT_EXAMPLE, subjectNeedsDetail } from '../tickets/subject-quality.ts';
import { type Ticket } from '../tickets/types.ts';
import { applyHardBounce } from './bounce-effects.ts';
import type { MailRequest } from './outbox.ts';
import { linesOf } from './templates.ts';

import { CustomerMail } from './notifier-customers.ts';
import { REOPENED_BY } from './notifier-context.ts';

/**
 * Turns case events into mail, inside the case change's transaction (the transactional outbox):
 * - case opened → confirmation to the requester; the case to the assignee, or to every consultant while unassigned;
 * - customer message → to the assignee / consultants;
 * - consultant answer (verified, not internal) → to the requester and the case's CC'd people, with its files, at most
 *   MAX_RECIPIENTS_PER_ANSWER of them (the requester first, then by how proven and how early; the excess recorded);
 * - a customer's message not proven to be theirs, or one naming more people than the caps let on the case → the
 *   consultants' notice says so;
 * - closed → the requester (with the link and a request to rate); reopened after closing → the case's links are
 *   rotated, the requester and (unless the customer reopened it by writing) the consultants are told;
 * - a consultant's mail that could not act → that consultant, saying why;
 * - a hard bounce of our mail → see bounce-effects.ts (only a proven address is stopped; the desk's is an alert).
 */

interface HeldEvent {
  type: 'request_held';
  held: { id: number; createdAt: number; messageId?: string };
  to: string;
  toName?: string;
  subject: string;
  reason: 'over_limit' | 'not_entitled';
  openCases: readonly Ticket[];
  limit?: number;
}
const NO_SUGGESTIONS = { articles: [], cases: [] };

export class MailNotifier extends CustomerMail implements Notifier {
  private async refuseHeld(uow: UnitOfWork, e: HeldEvent): Promise<void> {
    const now = e.held.createdAt;
    const openCases = [];
    for (const t of e.openCases.slice(0, 20))
      openCases.push({ number: t.number, subject: t.subject, url: await this.link(uow, t, e.to, now) });
    await this.deps.refusals!.refuse(uow, {
      key: `refusal:held:${e.held.id}`,
      to: e.to,
      toName: e.toName,
      subject: e.subject,
      reason: e.reason,
      inReplyTo: e.held.messageId,
      limit: e.limit === undefined ? undefined : String(e.limit),
      openCases,
      now,
    });
  }

  /** The mail of one event is written together: their thread ids in one INSERT per case (Outbox.together). */
  onCaseEvent(uow: UnitOfWork, e: CaseEvent): Promise<void> {
    return this.deps.outbox.together(uow, () => this.handle(uow, e));
  }

  private async handle(uow: UnitOfWork, e: CaseEvent): Promise<void> {
    if ((e.type === 'case_opened' || e.type === 'message_added') && e.message)
      this.remember(uow, e.messageRowId, e.message);
    switch (e.type) {
      case 'case_opened':
        return this.opened(uow, e.ticket, e.messageRowId, e.capped, e.questionTerms);
      case 'message_added':
        if (e.role === 'customer' && !e.internal)
          return this.toConsultants(
            uow,
            e.ticket,
            e.messageRowId,
            uow.peekMemo(REOPENED_BY)?.has(e.ticket.id) ? 'headingReopened' : 'headingFollowUp',
            undefined,
            undefined,
            e.capped,
          );
        if (e.role === 'consultant' && !e.internal) return this.answer(uow, e.ticket, e.messageRowId);
        return;
      case 'stage_changed':
        if (e.to === 'cerrado') return this.closed(uow, e.ticket, e.actor);
        if (e.from === 'cerrado' && e.to === 'reabierto') return this.reopened(uow, e.ticket, e.actor, e.reason);
        return;
      case 'consultant_feedback':
        return this.feedback(uow, e.ticket, e.to, e.kind, e.items, e.messageRowId);
      case 'list_requested':
        return enqueueListLink(uow, this.deps, e.ticket, e.to, e.at);
      case 'assigned':
        return this.toConsultants(uow, e.ticket, undefined, 'headingAssigned', [e.assignee]);
      case 'system_note_added':
        if (e.bounce?.hard) {
          const deps = { ...this.deps, desk: (t: Ticket) => this.deps.extraConsultants?.(t.organization) ?? [] };
          return applyHardBounce(
            deps,
            uow,
            e.ticket,
            e.bounce,
            e.messageRowId,
            Number((await this.message(uow, e.messageRowId)).created_at),
          );
        }
        return;
    }
    // The lifecycle rules (issue 5) hold requests over the open-case limit or from organizations without a
    // contract; the refusal is ours. Read by shape so this file does not depend on their event module.
    const held = e as unknown as HeldEvent;
    if (held.type === 'request_held' && this.deps.refusals) return this.refuseHeld(uow, held);
  }

  /** `terms`: what the case asks, as search stems, when the opener worked them out (OpenCaseInput.questionTerms). */
  private async opened(
    uow: UnitOfWork,
    t: Ticket,
    messageRowId: number,
    capped?: CappedNotice,
    terms?: readonly string[],
  ): Promise<void> {
    const m = await this.message(uow, messageRowId);
    const now = Number(m.created_at);
    const files = await this.files(uow, messageRowId);
    const summary = String(m.body_text ?? '').slice(0, 600);
    // The case was opened in this transaction: its one message is all the thread there is (saves the outbox's reads).
    const caseMessages = [
      {
        id: Number(m.id),
        messageId: m.message_id ?? undefined,
        fromAddress: m.from_address ?? undefined,
        createdAt: now,
      },
    ];
    const askDetail = subjectNeedsDetail(t.subject);
    const catalogue = this.deps.config.products.products;
    // Stemmed once for both suggestions (the articles for the requester, the cases for the consultants).
    const suggest = this.deps.suggestions;
    const asked = suggest ? (terms ?? queryTerms(caseQuestion(t.subject, String(m.body_text ?? '')))) : [];
    // Both asked at once: "¿Le sirve alguna de estas soluciones?" (published articles only, read through the
    // requester's own link) and the consultants' solved cases like this one.
    const { articles, cases: similar } = (await suggest?.suggestionsFor(uow, asked, 3, t.id)) ?? NO_SUGGESTIONS;
    const caseUrl = await this.link(uow, t, t.requester, now, true);
    const suggestions = articles.map((a) => ({ title: a.title, url: `${caseUrl}/conocimiento/${a.id}` }));
    await this.deps.outbox.enqueue(uow, {
      key: `case:${t.id}:opened:confirmation:${t.requester}`,
      ticket: t,
      kind: 'confirmation',
      to: t.requester,
      toName: t.requesterName,
      automatic: true,
      budgeted: true,
      autoSubmitted: 'auto-replied',
      template: 'confirmation',
      now,
      caseMessages,
      data: {
        summary: linesOf(summary.length < String(m.body_text ?? '').length ? `${summary}…` : summary),
        caseUrl,
        suggestions,
        hasSuggestions: suggestions.length > 0,
        // A subject such as "URGENTE" or none at all: ask for the module and the problem (issue 5).
        askDetail,
        subjectExample: SUBJECT_EXAMPLE,
        hasAttachments: files.any,
        // The customer's own files: listed back to them, none carried, so none marked as left on the page.
        attachments: files.list.map((f) => ({ ...f, onPage: false })),
        // The product could not be told from the subject: ask which (unless the subject ask above already does).
        product: productLabel(t) ?? '',
        askProduct: !askDetail && !t.product && catalogue.length > 0,
        productChoices: catalogue
          .map((p) => (p.modules.length ? `${p.name} (${p.modules.map((m) => m.name).join(', ')})` : p.name))
          .join('; '),
        productExample: catalogue[0]?.modules[0]
          ? `${catalogue[0].modules[0].name.toUpperCase()}, ${SUBJECT_EXAMPLE.split(', ')[1]}`
          : SUBJECT_EXAMPLE,
      },
    });
    await this.toConsultants(
      uow,
      t,
      messageRowId,
      'headingNew',
      undefined,
      { m, files, caseMessages, opened: true, similar },
      capped,
    );
  }

  /** `known`: the message row and its files when the caller has read them already, and for a case opened in this
   * transaction, its messages (so that the outbox need not read the thread) and `opened` (its links are new). */
  private async toConsultants(
    uow: UnitOfWork,
    t: Ticket,
    messageRowId: number | undefined,
    heading: string,
    only?: string[],
    known?: {
      m: any;
      files: Awaited<ReturnType<MailNotifier['files']>>;
      caseMessages?: MailRequest['caseMessages'];
      opened?: boolean;
      similar?: Ticket[];
    },
    capped?: CappedNotice,
  ): Promise<void> {
    const m = known?.m ?? (messageRowId ? await this.message(uow, messageRowId) : await lastCustomerMessage(uow, t.id));
    const now = this.now(uow, messageRowId ? Number(m.created_at) : t.updatedAt);
    const files = known?.files ?? (m ? await this.files(uow, Number(m.id)) : { list: [], attach: [], any: false });
    const unassigned = this.deps.renderer.tableString('consultant-case', this.deps.config.locale, 'unassigned');
    // The same lines for every consultant (each mail stores its own data: one array, serialized per row).
    const lines = linesOf(String(m?.body_text ?? ''));
    // What the consultants must know before acting on this mail (see the consultant-case strings).
    const warnings = {
      unverified: Boolean(m && m.role === 'customer' && !m.verified),
      cappedPerMail: capped?.limit === 'per_mail',
      cappedPerCase: capped?.limit === 'per_case',
      cappedDropped: capped?.dropped ?? 0,
      cappedMax: capped?.max ?? 0,
    };
    for (const to of only ?? this.consultantsFor(t)) {
      // Solved cases like this one (published or not: consultants see the whole case), each by this consultant's link.
      const similar = [];
      for (const c of known?.similar ?? [])
        similar.push({ number: c.number, subject: c.subject, url: await this.link(uow, c, to, now) });
      const link = await this.mailLink(uow, t, to, now, Boolean(known?.caseMessages), known?.opened);
      await this.deps.outbox.enqueue(uow, {
        key:
          `case:${t.id}:msg:${messageRowId ?? 'none'}:${heading}:${to}` +
          (heading === 'headingAssigned' ? `:${now}` : ''),
        ticket: t,
        kind:
          heading === 'headingNew'
            ? 'consultant_new_case'
            : heading === 'headingAssigned'
              ? 'consultant_assigned'
              : 'consultant_follow_up',
        to,
        automatic: true,
        budgeted: false,
        autoSubmitted: 'auto-generated',
        template: 'consultant-case',
        pick: { heading },
        now,
        attachments: files.attach,
        caseMessages: known?.caseMessages,
        threadRead: link.thread,
        data: {
          from: m?.from_address ?? t.requester,
          fromName: m?.from_name ?? t.requesterName ?? '',
          organization: t.organization,
          product: productLabel(t) ?? '',
          priority: t.priority,
          stage: t.stage,
          assignee: t.assignee ?? unassigned,
          lines,
          hasAttachments: files.any,
          attachments: files.list,
          caseUrl: link.url,
          commands: true,
          similar,
          hasSimilar: similar.length > 0,
          ...warnings,
        },
      });
    }
  }

  private async feedback(
    uow: UnitOfWork,
    t: Ticket,
    to: string,
    kind: 'unverified' | 'commands',
    items: string[],
    messageRowId: number,
  ): Promise<void> {
    const now = this.now(uow, Number((await this.message(uow, messageRowId)).created_at));
    const suffix = kind === 'unverified' ? 'Unverified' : 'Commands';
    await this.deps.outbox.enqueue(uow, {
      key: `case:${t.id}:msg:${messageRowId}:feedback:${to}`,
      ticket: t,
      kind: `notice_${kind}`,
      to,
      automatic: true,
      budgeted: false,
      alert: true,
      autoSubmitted: 'auto-replied',
      template: 'consultant-notice',
      now,
      pick: { heading: `heading${suffix}`, intro: `intro${suffix}`, next: `next${suffix}` },
      data: { items, commands: kind === 'commands' },
    });
  }
}
