import type { OpenCaseInput } from '../services/case-events.ts';
import { cleanSubject } from '../tickets/subject.ts';
import type { Ticket, TicketView } from '../tickets/types.ts';
import { senderProven } from './filters/customer-proof.ts';
import type { Facts, FilterContext } from './filters/types.ts';
import type { IngestContext } from './ingest-types.ts';
import type { InboundMail, MailSource } from './mail.ts';
import type { ConsultantPlan } from './pipeline.ts';
import { mailboxOf, whereFrom } from './source-key.ts';
import { withProtectionNote } from './protection.ts';
import { cutText } from '../text-cut.ts';

/** What a mail's effect writes, built from the mail and its verdict: the case's input, its message, its files. */

/** The case a new mail opens (or would open, for a held request: kept as it is and opened later). */
export function caseInput(
  mail: InboundMail,
  facts: Readonly<Facts>,
  source: MailSource,
  message: OpenCaseInput['message'],
  cc: string[],
  threadIds: string[],
): OpenCaseInput {
  const sender = facts.sender!;
  return {
    subject: cleanSubject(mail.subject),
    requester: sender.address,
    requesterName: sender.name || undefined,
    organization: sender.organization,
    priority: facts.access?.priority ?? 'media',
    category: facts.access?.category,
    mailbox: mailboxOf(source) ?? source.kind,
    related: facts.related,
    cc,
    message,
    threadIds,
    proven: senderProven(facts),
  };
}

/** The HTML and the attachments, extracted from the raw source and written without fsync (src/storage/blobs.ts);
 * the raw source itself, which we must never lose, commits with the mail's rows (src/storage/originals.ts).
 * Usually already written by the parser (`htmlSha256`, `sha256`). */
export async function storeBlobs(service: IngestContext, mail: InboundMail) {
  const { blobs, config } = service.deps;
  const htmlSha256 = mail.html ? (mail.htmlSha256 ?? (await blobs.put(mail.html, { derived: true }))) : undefined;
  const attachments = [];
  const skipped: string[] = [];
  for (const a of mail.attachments) {
    if (a.size > config.limits.maxAttachmentBytes) {
      // Kept in the raw source, which is always stored; listed as not extracted.
      skipped.push(`${a.filename} (${a.size} bytes)`);
      continue;
    }
    attachments.push({
      filename: a.filename,
      contentType: a.contentType,
      size: a.size,
      sha256: a.sha256 ?? (await blobs.put(a.content ?? Buffer.alloc(0), { derived: true })),
      contentId: a.contentId,
      inline: a.inline,
    });
  }
  return { rawSha256: mail.rawSha256, htmlSha256, attachments, skipped };
}

export function messageFrom(
  service: IngestContext,
  mail: InboundMail,
  facts: Readonly<Facts>,
  stored: Awaited<ReturnType<typeof storeBlobs>>,
  now: number,
  systemNote: boolean,
  consultant?: ConsultantPlan,
) {
  const role = systemNote ? 'system' : (facts.sender?.role ?? 'customer');
  const fullText = service.work.fullTextOf(mail);
  let bodyText = systemNote ? cutText(fullText, 20_000) : (facts.visibleText ?? fullText);
  bodyText = withProtectionNote(bodyText, mail.protection, service.deps.config.locale);
  if (stored.skipped.length)
    bodyText += `\n\n[Adjuntos demasiado grandes, guardados solo en el original: ${stored.skipped.join(', ')}]`;
  return {
    role: role as 'customer' | 'consultant' | 'system',
    source: 'mail' as const,
    fromAddress: mail.from?.address ?? facts.sender?.address,
    fromName: mail.from?.name || undefined,
    to: mail.to.map((a) => a.address),
    cc: mail.cc.map((a) => a.address),
    messageId: mail.messageId,
    subject: mail.subject,
    bodyText,
    fullText,
    htmlSha256: stored.htmlSha256,
    rawSha256: stored.rawSha256,
    internal: systemNote || Boolean(consultant?.internal),
    verified: consultant?.verified ?? customerVerified(facts, systemNote),
    noteKind: systemNote ? facts.automated?.kind : undefined,
    sentAt: mail.date?.getTime(),
    createdAt: now,
    attachments: stored.attachments,
  };
}

export function ledgerBase(mail: InboundMail, source: MailSource, sourceKey: string, now: number) {
  return { sourceKey, ...whereFrom(source), messageId: mail.messageId, contentHash: mail.contentHash, createdAt: now };
}

/** A customer's mail counts as theirs when it opens a case (the case is that mail's own) or proves its origin on the
 * case it continues (follow-up.ts); an unproven follow-up is kept, marked unverified. */
export function customerVerified(facts: Readonly<Facts>, systemNote: boolean): boolean {
  return systemNote || !facts.target || facts.sender?.role !== 'customer' || facts.target.proof !== undefined;
}

/** The case `id` as the mail's context read it (by tag, by headers, or from an embedded original). */
export function caseInContext(ctx: FilterContext, id: number): TicketView | undefined {
  return [ctx.taggedTicket, ...ctx.referencedTickets, ...ctx.embeddedTickets].find((t) => t?.id === id);
}

/** What a mail's judgment reads of its case, compared with the case as it is now. */
export function changedSince(seen: Ticket, now: Ticket): boolean {
  return (
    seen.stage !== now.stage ||
    seen.waitingOn !== now.waitingOn ||
    seen.assignee !== now.assignee ||
    seen.priority !== now.priority ||
    seen.updatedAt !== now.updatedAt ||
    seen.closedAt !== now.closedAt
  );
}

export function withoutParticipants(view: TicketView): Ticket {
  const { participants: _participants, ...ticket } = view;
  return ticket;
}
