import type { UnitOfWork } from '../db/unit-of-work.ts';
import { claimEffect, insertLedger } from '../db/repos/ledger.ts';
import { findTicketById, lockTicket } from '../db/repos/tickets.ts';
import { isPostgres } from '../db/knex.ts';
import { failedRecipients } from '../mail/bounces.ts';
import { loadContext } from './context.ts';
import type { IngestContext, IngestResult } from './ingest-types.ts';
import type { InboundMail, MailSource } from './mail.ts';
import { organizationFacts } from './organization-context.ts';
import { quarantine } from './quarantine.ts';
import {
  caseInContext,
  caseInput,
  changedSince,
  ledgerBase,
  messageFrom,
  storeBlobs,
  withoutParticipants,
} from './effect-inputs.ts';

/** Runs inside `uow` (the mail's savepoint in the group's transaction): reads its context, judges, applies. */
export async function judgeAndApply(
  service: IngestContext,
  uow: UnitOfWork,
  mail: InboundMail,
  source: MailSource,
  sourceKey: string,
  now: number,
  rejudged = false,
): Promise<IngestResult> {
  const { config } = service.deps;
  let ctx = await loadContext(uow, config, mail, source, now);
  // The thread look-up waited for another transaction that changed a case it locked: that case's row is the one
  // committed, its people (and the rest of the context) are not. Read again, the cases now held: only a case not
  // locked before can be waited for, so this ends.
  while ([...ctx.lockedCases.values()].includes(true)) ctx = await loadContext(uow, config, mail, source, now);
  if (service.deps.policy) ctx.organization = await organizationFacts(uow, service.deps.policy, mail);
  const verdict = service.work.runFilters(mail, ctx);
  // On PostgreSQL someone else may be changing this mail's case right now: the jobs closing it, a mail on another
  // mailbox, the status page. Lock it (until the batch commits) and, if it changed since the context read it,
  // judge the mail again on what is committed now (a reply that meets the auto-close reopens the case instead of
  // landing on a closed one). Nothing was written yet. SQLite has one writer at a time: nothing to do. A case the
  // mail's headers name was locked as the context read it (above).
  if (!rejudged && verdict.kind !== 'stop' && isPostgres(uow)) {
    const target = verdict.facts.target;
    if (target && !ctx.lockedCases.has(target.ticketId)) {
      const seen = caseInContext(ctx, target.ticketId);
      const locked = await lockTicket(uow, target.ticketId);
      if (!seen || !locked || changedSince(seen, locked))
        return judgeAndApply(service, uow, mail, source, sourceKey, now, true);
    }
  }
  if (verdict.kind === 'stop') {
    if (verdict.outcome === 'tempfail')
      return { outcome: 'tempfail', sourceKey, reason: verdict.reason, detail: verdict.detail };
    if (verdict.outcome === 'rejected') {
      return quarantine(
        service,
        uow,
        mail.raw.length,
        mail.rawSha256,
        mail.contentHash,
        source,
        sourceKey,
        verdict.reason,
        verdict.detail ?? '',
        { from: mail.from?.address, subject: mail.subject, messageId: mail.messageId },
        now,
      );
    }
    await insertLedger(uow, {
      ...ledgerBase(mail, source, sourceKey, now),
      outcome: 'ignored',
      reason: verdict.reason,
    });
    return { outcome: 'ignored', sourceKey, reason: verdict.reason, detail: verdict.detail };
  }

  const facts = verdict.facts;
  const effect = service.work.decide(facts);
  const stored = await storeBlobs(service, mail);
  const message = messageFrom(
    service,
    mail,
    facts,
    stored,
    now,
    effect.kind === 'system_note',
    effect.kind === 'follow_up' ? effect.consultant : undefined,
  );
  const threadIds = [mail.messageId, ...mail.inReplyTo, ...mail.references].filter((id): id is string => !!id);
  const cc = [...mail.to, ...mail.cc]
    .map(({ address }) => address)
    .filter(
      (a) =>
        a !== config.supportAddress &&
        a !== config.fallbackAddress &&
        a !== facts.sender?.address &&
        !config.consultants.includes(a),
    );

  let ticketNumber = 0;
  let heldId = 0;
  const apply = async (uow: UnitOfWork) => {
    await claimEffect(uow, mail.contentHash, sourceKey);
    let ticketId: number;
    let messageRowId: number;
    if (effect.kind === 'held') {
      // Kept whole (the raw source and attachments are already in the blob store) and refused politely.
      if (!service.deps.lifecycle) throw new Error('solicitud retenida sin servicio de ciclo de vida configurado');
      const held = await service.deps.lifecycle.holdRequest(
        uow,
        caseInput(mail, facts, source, message, cc, threadIds),
        effect.reason,
        now,
      );
      await insertLedger(uow, {
        ...ledgerBase(mail, source, sourceKey, now),
        outcome: 'accepted',
        effect: 'held',
        reason: effect.reason,
      });
      heldId = held.id;
      return;
    }
    if (effect.kind === 'new_case') {
      const input = caseInput(mail, facts, source, message, cc, threadIds);
      // The parse's stems are of the mail's visible text: good for the case when that is its message's text.
      if (mail.questionTerms && message.bodyText === mail.visibleText) input.questionTerms = mail.questionTerms;
      const opened = await service.deps.cases.openCase(uow, input);
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
        const bounce =
          a?.kind === 'bounce'
            ? {
                hard: Boolean(a.hard),
                addressGone: Boolean(a.addressGone),
                recipients: proven,
                unproven: claimed.filter((x) => !proven.includes(x)),
                status: a.status,
              }
            : undefined;
        messageRowId = await service.deps.cases.addSystemNote(uow, ticket, message, { bounce });
      } else {
        // A consultant's reply: either it cannot act (told why) or its commands act after the message is kept;
        // except `/cc`, which acts first, so that the people it adds get this very answer.
        const plan = effect.kind === 'follow_up' ? effect.consultant : undefined;
        const actor = facts.sender?.address ?? '';
        const people = plan?.feedback ? [] : (plan?.commands.filter((c) => c.kind === 'participants') ?? []);
        if (people.length) await service.deps.cases.runCommands(uow, ticket, people, actor, now);
        // A customer's Cc joins the case only when the mail proved its origin (target.proof, follow-up.ts).
        const added = await service.deps.cases.addMessage(uow, ticket, {
          message,
          cc,
          ccAddedBy: facts.target?.proof,
          threadIds,
          reopen: effect.reopen,
        });
        messageRowId = added.messageRowId;
        const rest = plan?.commands.filter((c) => c.kind !== 'participants') ?? [];
        if (plan?.feedback)
          await service.deps.cases.tellConsultant(uow, added.ticket, {
            to: actor,
            kind: plan.feedback.kind,
            items: plan.feedback.items,
            messageRowId,
            at: now,
          });
        else if (rest.length) await service.deps.cases.runCommands(uow, added.ticket, rest, actor, now);
      }
    }
    await insertLedger(uow, {
      ...ledgerBase(mail, source, sourceKey, now),
      outcome: 'accepted',
      effect: effect.kind,
      reason: facts.messageIdReused ? 'message_id_reused' : facts.related?.reason,
      ticketId,
      messageRowId,
    });
  };
  await apply(uow);
  if (effect.kind === 'held')
    return {
      outcome: 'accepted',
      sourceKey,
      effect: 'held',
      reason: effect.reason,
      detail: `${effect.detail} (solicitud retenida #${heldId})`,
    };
  return { outcome: 'accepted', sourceKey, effect: effect.kind, ticketNumber, reason: facts.related?.reason };
}
