import type { UnitOfWork } from '../db/unit-of-work.ts';
import { claimEffect, insertLedger } from '../db/repos/ledger.ts';
import { findTicketById, lockTicket } from '../db/repos/tickets.ts';
import { isPostgres } from '../db/knex.ts';
import { failedRecipients } from '../mail/bounces.ts';
import type { OpenCaseInput } from '../services/cases.ts';
import { cleanSubject } from '../tickets/subject.ts';
import type { Ticket, TicketView } from '../tickets/types.ts';
import { loadContext } from './context.ts';
import type { Facts, FilterContext } from './filters/types.ts';
import type { IngestContext, IngestResult } from './ingest-types.ts';
import type { InboundMail, MailSource } from './mail.ts';
import { organizationFacts } from './organization-context.ts';
import type { ConsultantPlan } from './pipeline.ts';
import { quarantine } from './quarantine.ts';
import { whereFrom } from './source-key.ts';

/** Runs inside `uow` (the mail's savepoint in the group's transaction): reads its context, judges, applies. */
export async function judgeAndApply(service: IngestContext, uow: UnitOfWork, mail: InboundMail, source: MailSource, sourceKey: string, now: number, rejudged = false): Promise<IngestResult> {
  const { config } = service.deps;
  const ctx = await loadContext(uow, config, mail, source, now);
  if (service.deps.policy) ctx.organization = await organizationFacts(uow, service.deps.policy, mail);
  const verdict = service.work.runFilters(mail, ctx);
  // On PostgreSQL someone else may be changing this mail's case right now: the jobs closing it, a mail on another
  // mailbox, the status page. Lock it (until the batch commits) and, if it changed since the context read it,
  // judge the mail again on what is committed now (a reply that meets the auto-close reopens the case instead of
  // landing on a closed one). Nothing was written yet. SQLite has one writer at a time: nothing to do.
  if (!rejudged && verdict.kind !== 'stop' && isPostgres(uow)) {
    const target = verdict.facts.target;
    if (target) {
      const seen = caseInContext(ctx, target.ticketId);
      const locked = await lockTicket(uow, target.ticketId);
      if (!seen || !locked || changedSince(seen, locked)) return judgeAndApply(service, uow, mail, source, sourceKey, now, true);
    }
  }
  if (verdict.kind === 'stop') {
    if (verdict.outcome === 'tempfail') return { outcome: 'tempfail', sourceKey, reason: verdict.reason, detail: verdict.detail };
    if (verdict.outcome === 'rejected') {
      return quarantine(service, uow, mail.raw, mail.rawSha256, mail.contentHash, source, sourceKey, verdict.reason, verdict.detail ?? '', { from: mail.from?.address, subject: mail.subject, messageId: mail.messageId }, now);
    }
    await insertLedger(uow, { ...ledgerBase(mail, source, sourceKey, now), outcome: 'ignored', reason: verdict.reason });
    return { outcome: 'ignored', sourceKey, reason: verdict.reason, detail: verdict.detail };
  }

  const facts = verdict.facts;
  const effect = service.work.decide(facts);
  const stored = await storeBlobs(service, mail);
  const message = messageFrom(service, mail, facts, stored, now, effect.kind === 'system_note', effect.kind === 'follow_up' ? effect.consultant : undefined);
  // Loops into array literals (here and in the notifier, src/outbound/notifier.ts files()): one kind of array
  // whether they end up empty or not, so this code is not optimized again for the first mail that has some.
  const threadIds: string[] = [];
  if (mail.messageId) threadIds.push(mail.messageId);
  for (const id of mail.inReplyTo) if (id) threadIds.push(id);
  for (const id of mail.references) if (id) threadIds.push(id);
  const cc: string[] = [];
  for (const list of [mail.to, mail.cc]) {
    for (const { address: a } of list) {
      if (a !== config.supportAddress && a !== config.fallbackAddress && a !== facts.sender?.address && !config.consultants.includes(a)) cc.push(a);
    }
  }

  let ticketNumber = 0;
  let heldId = 0;
  const apply = async (uow: UnitOfWork) => {
    await claimEffect(uow, mail.contentHash, sourceKey);
    let ticketId: number;
    let messageRowId: number;
    if (effect.kind === 'held') {
      // Kept whole (the raw source and attachments are already in the blob store) and refused politely.
      if (!service.deps.lifecycle) throw new Error('solicitud retenida sin servicio de ciclo de vida configurado');
      const held = await service.deps.lifecycle.holdRequest(uow, caseInput(mail, facts, source, message, cc, threadIds), effect.reason, now);
      await insertLedger(uow, { ...ledgerBase(mail, source, sourceKey, now), outcome: 'accepted', effect: 'held', reason: effect.reason });
      heldId = held.id;
      return;
    }
    if (effect.kind === 'new_case') {
      const opened = await service.deps.cases.openCase(uow, caseInput(mail, facts, source, message, cc, threadIds));
      ticketId = opened.ticket.id;
      messageRowId = opened.messageRowId;
      ticketNumber = opened.ticket.number;
    } else {
      // The case as the context read it, in this same savepoint a moment ago: no second read.
      const seen = caseInContext(ctx, effect.ticketId);
      const ticket = seen ? withoutParticipants(seen) : await findTicketById(uow, effect.ticketId);
      if (!ticket) throw new Error(`caso ${effect.number} desapareció durante el proceso`);
      ticketId = ticket.id;
      ticketNumber = ticket.number;
      if (effect.kind === 'system_note') {
        const a = facts.automated;
        // Only what the bounce proves may stop mail (bounce-proof.ts); what it merely claims is recorded.
        const proven = facts.returned?.proven ?? [];
        const claimed = facts.returned?.claimed ?? failedRecipients(mail);
        const bounce = a?.kind === 'bounce' ? { hard: Boolean(a.hard), addressGone: Boolean(a.addressGone), recipients: proven, unproven: claimed.filter((x) => !proven.includes(x)), status: a.status } : undefined;
        messageRowId = await service.deps.cases.addSystemNote(uow, ticket, message, { bounce });
      } else {
        // A consultant's reply: either it cannot act (told why) or its commands act after the message is kept;
        // except `/cc`, which acts first, so that the people it adds get this very answer.
        const plan = effect.kind === 'follow_up' ? effect.consultant : undefined;
        const actor = facts.sender?.address ?? '';
        const people = plan?.feedback ? [] : plan?.commands.filter((c) => c.kind === 'participants') ?? [];
        if (people.length) await service.deps.cases.runCommands(uow, ticket, people, actor, now);
        // A customer's Cc joins the case only when the mail proved its origin (target.proof, follow-up.ts).
        const added = await service.deps.cases.addMessage(uow, ticket, { message, cc, ccAddedBy: facts.target?.proof, threadIds, reopen: effect.reopen });
        messageRowId = added.messageRowId;
        const rest = plan?.commands.filter((c) => c.kind !== 'participants') ?? [];
        if (plan?.feedback) await service.deps.cases.tellConsultant(uow, added.ticket, { to: actor, kind: plan.feedback.kind, items: plan.feedback.items, messageRowId, at: now });
        else if (rest.length) await service.deps.cases.runCommands(uow, added.ticket, rest, actor, now);
      }
    }
    await insertLedger(uow, {
      ...ledgerBase(mail, source, sourceKey, now), outcome: 'accepted', effect: effect.kind,
      reason: facts.messageIdReused ? 'message_id_reused' : facts.related?.reason, ticketId, messageRowId,
    });
  };
  await apply(uow);
  if (effect.kind === 'held') return { outcome: 'accepted', sourceKey, effect: 'held', reason: effect.reason, detail: `${effect.detail} (solicitud retenida #${heldId})` };
  return { outcome: 'accepted', sourceKey, effect: effect.kind, ticketNumber, reason: facts.related?.reason };
}

/** The case a new mail opens (or would open, for a held request: kept as it is and opened later). */
function caseInput(mail: InboundMail, facts: Readonly<Facts>, source: MailSource, message: OpenCaseInput['message'], cc: string[], threadIds: string[]): OpenCaseInput {
  const sender = facts.sender!;
  return {
    subject: cleanSubject(mail.subject), requester: sender.address, requesterName: sender.name || undefined,
    organization: sender.organization, priority: facts.access?.priority ?? 'media', category: facts.access?.category,
    mailbox: source.kind === 'imap' ? source.account : source.kind, related: facts.related, cc, message, threadIds,
  };
}

/** The HTML and the attachments, extracted from the raw source and written without fsync (src/storage/blobs.ts);
 * the raw source itself, which we must never lose, commits with the mail's rows (src/storage/originals.ts).
 * Usually already written by the parser (`htmlSha256`, `sha256`). */
async function storeBlobs(service: IngestContext, mail: InboundMail) {
  const { blobs, config } = service.deps;
  const htmlSha256 = mail.html ? mail.htmlSha256 ?? await blobs.put(mail.html, { derived: true }) : undefined;
  const attachments = [];
  const skipped: string[] = [];
  for (const a of mail.attachments) {
    if (a.size > config.limits.maxAttachmentBytes) {
      // Kept in the raw source, which is always stored; listed as not extracted.
      skipped.push(`${a.filename} (${a.size} bytes)`);
      continue;
    }
    attachments.push({ filename: a.filename, contentType: a.contentType, size: a.size, sha256: a.sha256 ?? await blobs.put(a.content ?? Buffer.alloc(0), { derived: true }), contentId: a.contentId, inline: a.inline });
  }
  return { rawSha256: mail.rawSha256, htmlSha256, attachments, skipped };
}

function messageFrom(service: IngestContext, mail: InboundMail, facts: Readonly<Facts>, stored: Awaited<ReturnType<typeof storeBlobs>>, now: number, systemNote: boolean, consultant?: ConsultantPlan) {
  const role = systemNote ? 'system' : facts.sender?.role ?? 'customer';
  const fullText = service.work.fullTextOf(mail);
  let bodyText = systemNote ? fullText.slice(0, 20_000) : facts.visibleText ?? fullText;
  if (stored.skipped.length) bodyText += `\n\n[Adjuntos demasiado grandes, guardados solo en el original: ${stored.skipped.join(', ')}]`;
  return {
    role: role as 'customer' | 'consultant' | 'system', source: 'mail' as const,
    fromAddress: mail.from?.address ?? facts.sender?.address, fromName: mail.from?.name || undefined,
    to: mail.to.map((a) => a.address), cc: mail.cc.map((a) => a.address), messageId: mail.messageId, subject: mail.subject,
    bodyText, fullText, htmlSha256: stored.htmlSha256, rawSha256: stored.rawSha256,
    internal: systemNote || Boolean(consultant?.internal), verified: consultant?.verified ?? customerVerified(facts, systemNote), noteKind: systemNote ? facts.automated?.kind : undefined,
    sentAt: mail.date?.getTime(), createdAt: now, attachments: stored.attachments,
  };
}

export function ledgerBase(mail: InboundMail, source: MailSource, sourceKey: string, now: number) {
  return { sourceKey, ...whereFrom(source), messageId: mail.messageId, contentHash: mail.contentHash, createdAt: now };
}

/** A customer's mail counts as theirs when it opens a case (the case is that mail's own) or proves its origin on the
 * case it continues (follow-up.ts); an unproven follow-up is kept, marked unverified. */
function customerVerified(facts: Readonly<Facts>, systemNote: boolean): boolean {
  return systemNote || !facts.target || facts.sender?.role !== 'customer' || facts.target.proof !== undefined;
}

/** The case `id` as the mail's context read it (by tag, by headers, or from an embedded original). */
function caseInContext(ctx: FilterContext, id: number): TicketView | undefined {
  return [ctx.taggedTicket, ...ctx.referencedTickets, ...ctx.embeddedTickets].find((t) => t?.id === id);
}

/** What a mail's judgment reads of its case, compared with the case as it is now. */
function changedSince(seen: Ticket, now: Ticket): boolean {
  return seen.stage !== now.stage || seen.waitingOn !== now.waitingOn || seen.assignee !== now.assignee || seen.priority !== now.priority || seen.updatedAt !== now.updatedAt || seen.closedAt !== now.closedAt;
}

function withoutParticipants(view: TicketView): Ticket {
  const { participants: _participants, ...ticket } = view;
  return ticket;
}
