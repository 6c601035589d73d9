import { insertId, insertLater, insertSql, type Queryable } from '../sql.ts';
import type { Role } from '../../tickets/types.ts';

/** A case's messages, their attachments and its event log: the rows every mail writes. */

export interface NewMessage {
  ticketId: number;
  role: Role;
  source: 'mail' | 'web' | 'system';
  fromAddress?: string;
  fromName?: string;
  to?: string[];
  cc?: string[];
  messageId?: string;
  subject?: string;
  bodyText: string;
  fullText?: string;
  htmlSha256?: string;
  rawSha256?: string;
  internal: boolean;
  verified: boolean;
  noteKind?: string;
  sentAt?: number;
  createdAt: number;
  attachments: Array<{
    filename: string;
    contentType: string;
    size: number;
    sha256: string;
    contentId?: string;
    inline: boolean;
  }>;
}

const MESSAGE_COLUMNS = [
  'ticket_id',
  'role',
  'source',
  'from_address',
  'from_name',
  'to_json',
  'cc_json',
  'message_id',
  'subject',
  'body_text',
  'full_text',
  'html_sha256',
  'raw_sha256',
  'internal',
  'verified',
  'note_kind',
  'sent_at',
  'created_at',
];
const INSERT_MESSAGE = insertSql('messages', MESSAGE_COLUMNS);
const ATTACHMENT_COLUMNS = ['message_id', 'filename', 'content_type', 'size', 'sha256', 'content_id', 'inline'];

export async function insertMessage(trx: Queryable, m: NewMessage): Promise<number> {
  const id = (await insertId(trx, INSERT_MESSAGE, [
    m.ticketId,
    m.role,
    m.source,
    m.fromAddress,
    m.fromName,
    m.to ? JSON.stringify(m.to) : null,
    m.cc ? JSON.stringify(m.cc) : null,
    m.messageId,
    m.subject,
    m.bodyText,
    m.fullText,
    m.htmlSha256,
    m.rawSha256,
    m.internal,
    m.verified,
    m.noteKind,
    m.sentAt,
    m.createdAt,
  ]))!;
  // In the ingest's batch with the batch's others (insertLater): attachmentsOf writes them first (flushFor).
  await insertLater(
    trx,
    'attachments',
    ATTACHMENT_COLUMNS,
    m.attachments.map((a) => [id, a.filename, a.contentType, a.size, a.sha256, a.contentId, a.inline]),
  );
  return id;
}

export interface NewEvent {
  ticketId: number;
  type: string;
  actor?: string;
  from?: string;
  to?: string;
  reason?: string;
  data?: Record<string, unknown>;
  at: number;
}

const EVENT_COLUMNS = ['ticket_id', 'type', 'actor', 'from_value', 'to_value', 'reason', 'data_json', 'created_at'];

/** An entry of the case's log; in the ingest's batch written with the batch's others (insertLater): the readers of
 * the log flush them first (flushFor). */
export async function insertEvent(trx: Queryable, e: NewEvent): Promise<void> {
  await insertLater(trx, 'events', EVENT_COLUMNS, [
    [e.ticketId, e.type, e.actor, e.from, e.to, e.reason, e.data ? JSON.stringify(e.data) : null, e.at],
  ]);
}
