import { memoKey, type UnitOfWork } from '../db/unit-of-work.ts';
import type { Config } from '../config.ts';
import { findMessage } from '../db/repos/messages.ts';
import { attachmentsOf, insertEvent, participantsOf, type NewMessage } from '../db/repos/tickets.ts';
import type { LinkService } from '../links/links.ts';
import type { Logger } from '../logger.ts';
import { shownAttachmentName } from '../mail/attachment-names.ts';
import { type Suggestions } from './consultant-extras.ts';
import { PROVEN_ORIGINS, type Ticket } from '../tickets/types.ts';
import type { Outbox } from './outbox.ts';
import { readWithLink, type ThreadRead } from './outbox-thread.ts';
import type { Refusals } from './refusals.ts';
import { humanSize, type TemplateRenderer } from './templates.ts';

/** The notifier's dependencies. */
export type NotifierDeps = {
  config: Config;
  outbox: Outbox;
  links: LinkService;
  renderer: TemplateRenderer;
  log: Logger;
  refusals?: Refusals;
  extraConsultants?: (organization: string) => readonly string[];
  suggestions?: Suggestions;
};

/** Cases a customer's reply reopened in this unit of work (one mail's): the follow-up mail says so, once. */
export const REOPENED_BY = memoKey('notifier.reopenedBy', () => new Set<number>());
/** Message rows a unit of work (one mail's) wrote, as the event carried them: the same columns a read would return. */
export const WRITTEN = memoKey('notifier.written', () => new Map<number, { row: any; attachments: any[] }>());

/**
 * What every mail of the notifier needs: links, the message and files an event is about (from the unit of work's
 * memory when it wrote them), the consultants and customers a case's news goes to.
 */
export class NotifierContext {
  constructor(protected readonly deps: NotifierDeps) {}

  protected remember(uow: UnitOfWork, id: number, m: Omit<NewMessage, 'ticketId'>): void {
    const map = uow.memo(WRITTEN);
    // The columns attachmentsOf() returns, so files() reads either the same way.
    const attachments = m.attachments.map((a) => ({
      filename: a.filename,
      size: a.size,
      content_type: a.contentType,
      sha256: a.sha256,
      inline: a.inline,
    }));
    map.set(id, {
      row: {
        id,
        created_at: m.createdAt,
        body_text: m.bodyText,
        from_address: m.fromAddress ?? null,
        from_name: m.fromName ?? null,
        message_id: m.messageId ?? null,
        role: m.role,
        verified: m.verified,
      },
      // In insertion order, as attachmentsOf's ORDER BY id returns them.
      attachments,
    });
  }

  /** Times come from the case change itself (the ingest clock), so that budgets and links agree with it. */
  protected now(_trx: UnitOfWork, at: number): number {
    return at;
  }

  /** `fresh`: the case was opened in this transaction, so its links are new rows without a look-up (issueLink). */
  protected link(uow: UnitOfWork, t: Ticket, recipient: string, now: number, fresh = false): Promise<string> {
    return this.deps.links.issueLink(uow, { ticketId: t.id, number: t.number, recipient, now, fresh });
  }

  /**
   * The case's link in a mail to `recipient` about to be enqueued on `t`. When that mail's thread comes from the
   * database (the case was not opened in this transaction, no MailRequest.caseMessages), the link generations and the
   * thread are read in one statement (readWithLink): `thread` goes to that mail's enqueue (MailRequest.threadRead).
   */
  protected async mailLink(
    uow: UnitOfWork,
    t: Ticket,
    recipient: string,
    now: number,
    threadKnown: boolean,
    fresh = false,
  ): Promise<{ url: string; thread?: ThreadRead }> {
    if (fresh || threadKnown) return { url: await this.link(uow, t, recipient, now, fresh) };
    const { generations, thread } = await readWithLink(uow, t, recipient, (c) => this.consultantsFor(c));
    const url = await this.deps.links.issueLink(uow, { ticketId: t.id, number: t.number, recipient, now, generations });
    return { url, thread };
  }

  protected consultantsFor(t: Ticket): string[] {
    const base = t.assignee ? [t.assignee] : [...this.deps.config.consultants];
    // An organization's extra consultants (MESA_CONFIG_FILE organizations[].notify, issue 5) hear about its cases too.
    return [...new Set([...base, ...(this.deps.extraConsultants?.(t.organization) ?? [])])];
  }

  protected async message(uow: UnitOfWork, id: number): Promise<any> {
    return uow.peekMemo(WRITTEN)?.get(id)?.row ?? findMessage(uow, id);
  }

  /**
   * The files of a message that a mail lists and attaches: the attachments, not the inline parts of its body. A mail
   * carries them, in order, while they fit in MAIL_ATTACH_MAX_BYTES together; the others it lists as on the case page
   * (`onPage`), which serves them. A mail over its relay's or its recipient's size limit is refused whole (Gmail's is
   * 25 MB, a default Postfix's 10 MB, and base64 makes a file a third larger): the consultant would get no notice.
   */
  protected async files(uow: UnitOfWork, messageRowId: number) {
    const rows = uow.peekMemo(WRITTEN)?.get(messageRowId)?.attachments ?? (await attachmentsOf(uow, [messageRowId]));
    const files = rows.filter((a) => !a.inline);
    let room = this.deps.config.outbound.attachMaxBytes;
    const carried = files.map((a) => {
      const fits = Number(a.size) <= room;
      if (fits) room -= Number(a.size);
      return fits;
    });
    const names = files.map((a) => shownAttachmentName(a.filename));
    const list = files.map((a, i) => ({ filename: names[i], size: humanSize(Number(a.size)), onPage: !carried[i] }));
    const attach = files
      .map((a, i) => ({ filename: names[i], contentType: a.content_type, sha256: a.sha256 }))
      .filter((_, i) => carried[i]);
    return { list, attach, any: list.length > 0 };
  }

  /** The people a case's news goes to: the requester and the CC'd, never a consultant or our own addresses; at most
   * MAX_RECIPIENTS_PER_ANSWER (requester, then proven, earliest first), the rest recorded as `what` was sent. */
  protected async customers(uow: UnitOfWork, t: Ticket, what: string, now: number): Promise<string[]> {
    const { config } = this.deps;
    const people = (await participantsOf(uow, t.id)).filter((p) => p.role === 'requester' || p.role === 'cc');
    const proven = (p: (typeof people)[number]) => (PROVEN_ORIGINS.includes(p.addedBy ?? 'unproven') ? 0 : 1);
    const ordered = [...people].sort((a, b) => proven(a) - proven(b)).map((p) => p.address);
    const all = [...new Set([t.requester, ...ordered])].filter(
      (a) => !config.consultants.includes(a) && a !== config.supportAddress && a !== config.fallbackAddress,
    );
    const max = config.participants.perAnswer;
    if (all.length <= max) return all;
    const left = all.slice(max);
    await insertEvent(uow, {
      ticketId: t.id,
      type: 'fanout_capped',
      actor: 'mesa',
      at: now,
      reason:
        `${what}: enviado a ${max} de ${all.length} personas (MAX_RECIPIENTS_PER_ANSWER); ` +
        `sin enviar: ${left.slice(0, 10).join(', ')}${left.length > 10 ? '…' : ''}`,
      data: { sent: max, skipped: left.length, kind: what },
    });
    this.deps.log.warn(
      { ticket: t.number, sent: max, skipped: left.length, kind: what },
      'demasiados destinatarios: el correo va solo a los primeros',
    );
    return all.slice(0, max);
  }
}
