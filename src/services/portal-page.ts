import type { Knex } from 'knex';
import type { Config } from '../config.ts';
import { attachmentsOf, findTicketById, messagesOf } from '../db/repos/tickets.ts';
import { shownAttachmentName } from '../mail/attachment-names.ts';
import type { BlobStore } from '../storage/blobs.ts';
import { isOpen } from '../tickets/state-machine.ts';
import type { CatalogueProduct } from '../tickets/products.ts';
import type { Ticket } from '../tickets/types.ts';
import { productChoices } from './portal-product.ts';
import { nestsDeeperThan } from './html-nesting.ts';

/** What the "Consultar mi caso" page shows (src/services/portal.ts decides who may see it and who acts). */

/** Who is reading: the link's recipient, as a customer or as a consultant. */
export interface Reader {
  ticket: Ticket;
  recipient: string;
  role: 'customer' | 'consultant';
}

export interface PageMessage {
  id: number;
  side: 'me' | 'support' | 'other';
  author: string;
  at: number;
  text: string;
  /** The original HTML of a customer's mail (consultants' originals carry signatures and direct addresses). */
  html?: string;
  readAt?: number;
  /** A customer's mail that did not prove it comes from its From (follow-up.ts): shown marked as such. */
  unverified: boolean;
  attachments: Array<{
    id: number;
    filename: string;
    contentType: string;
    size: number;
    contentId?: string;
    inline: boolean;
  }>;
}

export interface PageModel {
  ticket: Ticket;
  recipient: string;
  role: 'customer' | 'consultant';
  /** The newest support answer on the page that this reader has not read yet (what a read receipt would cover). */
  unreadUpTo?: number;
  attendedBy?: string;
  messages: PageMessage[];
  canWrite: boolean;
  canRate: boolean;
  /** The catalogue's products, while the case has none and this reader is its customer (portal-product.ts). */
  productChoices: readonly CatalogueProduct[];
}

/**
 * Original HTML above this size, or nested deeper than a browser builds (html-nesting.ts), is not shown (the text part
 * still is): the page must stay fast on a phone, and its sanitizer costs the square of the nesting.
 */
const MAX_HTML_BYTES = 512 * 1024;

/** `fresh`: the case as just read (by the link's check), not read again. */
export async function pageModel(
  deps: { db: Knex; blobs: BlobStore; config: Config },
  a: Reader,
  fresh?: Ticket,
): Promise<PageModel> {
  const { db, config } = deps;
  const ticket = fresh ?? (await findTicketById(db, a.ticket.id)) ?? a.ticket;
  const rows = (await messagesOf(db, ticket.id)).filter(
    (m) => !m.internal && (m.role === 'customer' || m.role === 'consultant'),
  );
  const atts = await attachmentsOf(
    db,
    rows.map((m) => Number(m.id)),
  );
  const consultantNames = new Map<string, string>();
  const messages: PageMessage[] = [];
  for (const m of rows) {
    const from = (m.from_address ?? '').toLowerCase();
    if (m.role === 'consultant' && m.from_name) consultantNames.set(from, m.from_name);
    let html: string | undefined;
    if (m.role === 'customer' && m.html_sha256) html = await readHtml(deps.blobs, m.html_sha256);
    messages.push({
      id: Number(m.id),
      side: m.role === 'consultant' ? 'support' : from === a.recipient ? 'me' : 'other',
      author: m.role === 'consultant' ? config.supportName : m.from_name || m.from_address || '',
      at: Number(m.created_at),
      text: m.body_text ?? '',
      html,
      readAt: m.read_at == null ? undefined : Number(m.read_at),
      unverified: m.role === 'customer' && !m.verified,
      attachments: atts
        .filter((x) => Number(x.message_id) === Number(m.id))
        .map((x) => ({
          id: Number(x.id),
          filename: shownAttachmentName(x.filename),
          contentType: x.content_type,
          size: Number(x.size),
          contentId: x.content_id ?? undefined,
          inline: Boolean(x.inline),
        })),
    });
  }
  const unread = a.role === 'customer' ? messages.filter((m) => m.side === 'support' && m.readAt === undefined) : [];
  return {
    ticket,
    recipient: a.recipient,
    role: a.role,
    messages,
    unreadUpTo: unread.length ? unread[unread.length - 1].id : undefined,
    attendedBy: ticket.assignee ? (consultantNames.get(ticket.assignee) ?? ticket.assignee.split('@')[0]) : undefined,
    canWrite: isOpen(ticket.stage),
    canRate: a.role === 'customer' && (ticket.stage === 'pruebas' || (ticket.stage === 'cerrado' && !ticket.rating)),
    productChoices: productChoices(config.products, { role: a.role, ticket }),
  };
}

async function readHtml(blobs: BlobStore, sha: string): Promise<string | undefined> {
  const bytes = await blobs.readUpTo(sha, MAX_HTML_BYTES);
  if (bytes === undefined || bytes === 'too-large') return undefined;
  const html = bytes.toString('utf8');
  return nestsDeeperThan(html) ? undefined : html;
}
