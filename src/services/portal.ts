import type { Readable } from 'node:stream';
import { inUnitOfWork, type UnitOfWork } from '../db/unit-of-work.ts';
import { findLinkByHash } from '../db/repos/links.ts';
import { visibleAttachment } from '../db/repos/messages.ts';
import { claimSubmission, setSubmissionMessage } from '../db/repos/status-page.ts';
import { lockTicket } from '../db/repos/tickets.ts';
import { MesaError } from '../errors.ts';
import { shownAttachmentName } from '../mail/attachment-names.ts';
import { tokenHash } from '../links/tokens.ts';
import type { Logger } from '../logger.ts';
import { isOpen } from '../tickets/state-machine.ts';
import { lostLinks, requestFreshLink } from './portal-links.ts';
import { chooseProduct, type ProductChoiceResult } from './portal-product.ts';
import { applyRating } from './portal-rating.ts';
import { pageModel, type PageModel } from './portal-page.ts';
import type { Access, PortalDeps, UploadedFile, Verdict } from './portal-types.ts';

/**
 * What a customer can do from the "Consultar mi caso" page (issue 4), behind a magic link: read the case, add a
 * message, rate the solution, ask for a fresh link. The web routes only translate HTTP to these calls; every
 * change goes through CaseService, exactly as a mail would, so the outbound notifier tells the consultants.
 *
 * Who acts: a link acts as the person it was mailed to. A consultant's own link (every notice to a consultant
 * carries one) posts as that consultant — an answer the customers are mailed, as from the consultant's mail
 * client — never rates the solution for the customer and never records a read. A customer's link acts as that
 * customer, whoever holds it: it is a bearer credential, so a consultant answers from their own link or by mail.
 *
 * What counts as reading: fetching the page does not (mail-security scanners fetch every link in a mail). An
 * answer is read when the customer's browser reports a person's input on the page (markRead, sent by the page's
 * one script on the first real key, touch or pointer event), when they press "Ya leí las respuestas" (the same
 * request, for browsers without script), or when they post a message or a rating from it: each up to the newest
 * answer that page showed.
 */

const HOUR = 3_600_000;
export const MAX_TEXT_CHARS = 50_000;

export class PortalService {
  private readonly now: () => number;
  private readonly log: Logger;

  constructor(private readonly deps: PortalDeps) {
    this.now = deps.clock ?? Date.now;
    this.log = deps.logger.child({ component: 'portal' });
  }

  async access(token: string): Promise<Access> {
    const { db, links } = this.deps;
    const r = await links.verifyToken(db, token, this.now());
    if (r.ok) {
      const { ticket } = r;
      const desk = this.deps.consultantsOf?.(ticket.organization) ?? this.deps.config.consultants;
      return {
        kind: 'ok',
        ticket,
        recipient: r.recipient,
        linkId: r.linkId,
        lastUsedAt: r.lastUsedAt,
        role: desk.includes(r.recipient) ? 'consultant' : 'customer',
      };
    }
    if (r.reason === 'expired' || r.reason === 'revoked') {
      const row = await findLinkByHash(db, tokenHash(token));
      if (row) return { kind: 'stale', ticketId: row.ticketId, number: row.number, recipient: row.recipient };
    }
    return { kind: 'invalid' };
  }

  /**
   * The page's content. Fetching it records that the link was used, not that anything was read (see above); to the
   * hour: "last used" is for an operator deciding whether a link is alive, and a write on every view made each
   * reader of the page wait for the database's one writer.
   */
  async open(a: Extract<Access, { kind: 'ok' }>): Promise<PageModel> {
    const now = this.now();
    if (a.lastUsedAt === undefined || now - a.lastUsedAt >= HOUR)
      await this.deps.links.touchLink(this.deps.db, a.linkId, now);
    return pageModel(this.deps, a, a.ticket);
  }

  /** A person read the page: the customer's unread answers up to `upTo` (the newest that page showed) are read. */
  async markRead(a: Extract<Access, { kind: 'ok' }>, upTo: number | undefined): Promise<number> {
    if (a.role !== 'customer' || upTo === undefined) return 0;
    // The case row first, as every other write of the page takes it (rate, post): marking answers read locks their
    // message rows and then the case (the event's foreign key), and a rating locks the case and then the same
    // messages. In opposite orders, a read receipt sent while the customer submits a rating deadlocked on PostgreSQL.
    return inUnitOfWork(this.deps.db, async (trx) => {
      const ticket = (await lockTicket(trx, a.ticket.id)) ?? a.ticket;
      return this.deps.cases.markRead(trx, ticket, a.recipient, this.now(), upTo);
    });
  }

  /**
   * An attachment of a message the customer can see on this case, to be sent as it is read from disk (a 25 MB file
   * downloaded by many at once is never that many Buffers); undefined for anything else.
   */
  async attachment(
    a: Extract<Access, { kind: 'ok' }>,
    attachmentId: number,
  ): Promise<{ filename: string; contentType: string; size: number; content: Readable } | undefined> {
    const { db, blobs } = this.deps;
    const row = await visibleAttachment(db, a.ticket.id, attachmentId);
    const file = row && (await blobs.openForReading(row.sha256));
    if (!row || !file) return undefined;
    return { filename: shownAttachmentName(row.filename), contentType: row.content_type, ...file };
  }

  /**
   * A message typed on the page, added as a mail would be. `nonce` is the form's one-time key: the same form
   * submitted twice (double click, reload after POST) adds the message once.
   */
  async postMessage(
    a: Extract<Access, { kind: 'ok' }>,
    input: { nonce: string; text: string; files: UploadedFile[]; seen?: number },
  ): Promise<{ duplicate: boolean; messageRowId?: number }> {
    const { cases, blobs, config } = this.deps;
    if (!isOpen(a.ticket.stage)) throw new MesaError('TRANSITION_REFUSED', 'el caso está cerrado');
    const text = withinLimit(input.text);
    const files = input.files.filter((f) => f.staged.size > 0);
    if (!text && files.length === 0) throw new MesaError('MAIL_EMPTY', 'mensaje vacío');
    // As a mail's attachment: no path, controls or invisible format characters (also in the refusal it names).
    for (const f of files)
      if (f.staged.size > config.limits.maxAttachmentBytes)
        throw new MesaError('ATTACHMENT_TOO_LARGE', shownAttachmentName(f.filename));
    // Blobs first: a rollback leaves at worst an orphan file, never a message pointing at nothing.
    const attachments: Array<{ filename: string; contentType: string; size: number; sha256: string; inline: boolean }> =
      [];
    for (const f of files) {
      attachments.push({
        filename: shownAttachmentName(f.filename),
        contentType: f.contentType || 'application/octet-stream',
        size: f.staged.size,
        sha256: await blobs.adopt(f.staged),
        inline: false,
      });
    }
    const now = this.now();
    const fromName = a.recipient === a.ticket.requester ? a.ticket.requesterName : undefined;
    const r = await this.once(a.ticket.id, input.nonce, 'message', now, async (trx) => {
      const ticket = (await lockTicket(trx, a.ticket.id))!;
      if (!isOpen(ticket.stage)) throw new MesaError('TRANSITION_REFUSED', 'el caso está cerrado');
      // Writing an answer is reading the ones the page showed.
      if (a.role === 'customer' && input.seen !== undefined)
        await cases.markRead(trx, ticket, a.recipient, now, input.seen);
      const { messageRowId } = await cases.addMessage(trx, ticket, {
        message: {
          role: a.role,
          source: 'web',
          fromAddress: a.recipient,
          fromName,
          bodyText: text,
          fullText: text,
          subject: `[Caso #${ticket.number}] ${ticket.subject}`,
          internal: false,
          verified: true,
          createdAt: now,
          attachments,
          to: [config.supportAddress],
        },
        cc: [],
        threadIds: [],
        reopen: false,
      });
      await setSubmissionMessage(trx, ticket.id, input.nonce, messageRowId);
      this.log.info(
        { ticket: ticket.number, messageRowId, role: a.role, attachments: attachments.length },
        'mensaje desde la página del caso',
      );
      return messageRowId;
    });
    return { duplicate: r.duplicate, messageRowId: r.result };
  }

  /**
   * "Solución satisfactoria" (VoBo: closes the case) or "insatisfactoria" (reopens it with the customer's
   * comment, which support is told about again). Offered while the case is in `pruebas` or closed.
   */
  async rate(
    a: Extract<Access, { kind: 'ok' }>,
    input: { nonce: string; verdict: Verdict; comment: string; seen?: number },
  ): Promise<{ duplicate: boolean; url?: string }> {
    // The solution is the customer's to accept or reject, not the desk's.
    if (a.role !== 'customer') throw new MesaError('TRANSITION_REFUSED', 'calificar desde el enlace de un consultor');
    const comment = withinLimit(input.comment);
    if (input.verdict === 'insatisfactoria' && !comment) throw new MesaError('MAIL_EMPTY', 'falta el comentario');
    const now = this.now();
    const r = await this.once(a.ticket.id, input.nonce, 'rating', now, async (trx) => {
      const ticket = (await lockTicket(trx, a.ticket.id))!;
      if (ticket.stage !== 'pruebas' && ticket.stage !== 'cerrado')
        throw new MesaError('TRANSITION_REFUSED', `calificar en etapa "${ticket.stage}"`);
      if (input.seen !== undefined) await this.deps.cases.markRead(trx, ticket, a.recipient, now, input.seen);
      await applyRating(this.deps, this.log, trx, { ticket, verdict: input.verdict, comment, actor: a.recipient, now });
      // Reopening a closed case rotates its links (the notifier revokes them and mails new ones): hand this
      // browser the recipient's new link too, so the answer to the click is the case, not a dead link.
      if (ticket.stage === 'cerrado')
        return this.deps.links.issueLink(trx, {
          ticketId: ticket.id,
          number: ticket.number,
          recipient: a.recipient,
          now,
        });
      return undefined;
    });
    return { duplicate: r.duplicate, url: r.result };
  }

  /** The customer's choice of product, module and version, while the case has none (portal-product.ts). */
  chooseProduct(
    a: Extract<Access, { kind: 'ok' }>,
    input: { choice: string; version: string },
  ): Promise<ProductChoiceResult> {
    return chooseProduct(this.deps, this.log, a, input, this.now());
  }

  /** A fresh link for a stale one (portal-links.ts). */
  requestFreshLink(s: Extract<Access, { kind: 'stale' }>): Promise<'sent' | 'limited'> {
    return requestFreshLink(this.deps, this.log, this.now(), s);
  }

  /** "Perdí mi enlace" (portal-links.ts). */
  lostLinks(address: string): Promise<void> {
    return lostLinks(this.deps, this.now(), address);
  }

  /** Runs `effect` once per (case, nonce): a second submission of the same form finds the claim and does nothing. */
  private async once<T>(
    ticketId: number,
    nonce: string,
    kind: 'message' | 'rating',
    now: number,
    effect: (trx: UnitOfWork) => Promise<T>,
  ): Promise<{ duplicate: boolean; result?: T }> {
    try {
      return await inUnitOfWork(this.deps.db, async (trx) => {
        if (!(await claimSubmission(trx, ticketId, nonce, kind, now))) return { duplicate: true };
        return { duplicate: false, result: await effect(trx) };
      });
    } catch (err) {
      // The twin of this submission committed first (PostgreSQL waits on the key, then refuses ours).
      if (/web_submissions|unique|duplicate key/i.test(String((err as Error).message))) return { duplicate: true };
      throw err;
    }
  }
}

/** A text typed on the page, line ends as a mail's. One over MAX_TEXT_CHARS is refused with its length (the page
 * says so and keeps the draft), never cut: the person would not know what was lost. */
function withinLimit(typed: string): string {
  const text = typed.replace(/\r\n/g, '\n').trim();
  if (text.length > MAX_TEXT_CHARS) throw new MesaError('TEXT_TOO_LONG', String(text.length));
  return text;
}
