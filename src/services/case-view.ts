import type { Db } from '../db/knex.ts';
import {
  attachmentsOf,
  eventsOf,
  findTicketByNumber,
  listTickets,
  messagesOf,
  participantsOf,
} from '../db/repos/tickets.ts';
import type { Ticket } from '../tickets/types.ts';

/** Read models for the CLI and the status page: camelCase, ISO times, nothing internal unless asked. */

const iso = (ms: unknown): string | null =>
  ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString();

export interface CaseSummary {
  number: number;
  subject: string;
  stage: string;
  priority: string;
  waitingOn: string;
  requester: string;
  organization: string;
  assignee: string | null;
  createdAt: string;
  updatedAt: string;
  relatedNumber: number | null;
}

export function summary(t: Ticket): CaseSummary {
  return {
    number: t.number,
    subject: t.subject,
    stage: t.stage,
    priority: t.priority,
    waitingOn: t.waitingOn,
    requester: t.requester,
    organization: t.organization,
    assignee: t.assignee ?? null,
    createdAt: iso(t.createdAt)!,
    updatedAt: iso(t.updatedAt)!,
    relatedNumber: t.relatedNumber ?? null,
  };
}

export async function listCases(db: Db, opts: { openOnly?: boolean; limit?: number } = {}): Promise<CaseSummary[]> {
  return (await listTickets(db, opts)).map(summary);
}

export interface CaseMessage {
  id: number;
  role: 'customer' | 'consultant' | 'system';
  from: string | null;
  fromName: string | null;
  bodyText: string;
  createdAt: string;
  readAt: string | null;
  internal: boolean;
  verified: boolean;
  noteKind: string | null;
  messageId: string | null;
  rawSha256: string | null;
  attachments: Array<{
    id: number;
    filename: string;
    contentType: string;
    size: number;
    sha256: string;
    inline: boolean;
  }>;
}

export interface CaseDetail extends CaseSummary {
  requesterName: string | null;
  category: string | null;
  relatedReason: string | null;
  rating: string | null;
  ratingComment: string | null;
  closedAt: string | null;
  firstResponseAt: string | null;
  product: string | null;
  productModule: string | null;
  productVersion: string | null;
  participants: Array<{ address: string; role: string }>;
  messages: CaseMessage[];
  events: Array<{
    type: string;
    actor: string | null;
    from: string | null;
    to: string | null;
    reason: string | null;
    createdAt: string;
  }>;
}

export async function caseDetail(
  db: Db,
  number: number,
  opts: { includeInternal?: boolean } = {},
): Promise<CaseDetail | undefined> {
  const t = await findTicketByNumber(db, number);
  if (!t) return undefined;
  const rows = (await messagesOf(db, t.id)).filter((m) => opts.includeInternal !== false || !m.internal);
  const atts = await attachmentsOf(
    db,
    rows.map((m) => Number(m.id)),
  );
  const messages: CaseMessage[] = rows.map((m) => ({
    id: Number(m.id),
    role: m.role,
    from: m.from_address ?? null,
    fromName: m.from_name ?? null,
    bodyText: m.body_text,
    createdAt: iso(m.created_at)!,
    readAt: iso(m.read_at),
    internal: Boolean(m.internal),
    verified: Boolean(m.verified),
    noteKind: m.note_kind ?? null,
    messageId: m.message_id ?? null,
    rawSha256: m.raw_sha256 ?? null,
    attachments: atts
      .filter((a) => Number(a.message_id) === Number(m.id))
      .map((a) => ({
        id: Number(a.id),
        filename: a.filename,
        contentType: a.content_type,
        size: Number(a.size),
        sha256: a.sha256,
        inline: Boolean(a.inline),
      })),
  }));
  return {
    ...summary(t),
    requesterName: t.requesterName ?? null,
    category: t.category ?? null,
    relatedReason: t.relatedReason ?? null,
    rating: t.rating ?? null,
    ratingComment: t.ratingComment ?? null,
    closedAt: iso(t.closedAt),
    firstResponseAt: iso(t.firstResponseAt),
    product: t.product ?? null,
    productModule: t.productModule ?? null,
    productVersion: t.productVersion ?? null,
    participants: await participantsOf(db, t.id),
    messages,
    events: (await eventsOf(db, t.id)).map((e) => ({
      type: e.type,
      actor: e.actor ?? null,
      from: e.from_value ?? null,
      to: e.to_value ?? null,
      reason: e.reason ?? null,
      createdAt: iso(e.created_at)!,
    })),
  };
}
