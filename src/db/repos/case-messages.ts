import { insertId, insertLater, insertSql, rowsWhere, waitingRows, type Queryable } from '../sql.ts';
import { reservedMessageId } from './ids-ahead.ts';
import { messageWrittenAhead } from './notice-thread-ahead.ts';
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
const MESSAGE_COLUMNS_WITH_ID = ['id', ...MESSAGE_COLUMNS];
const ATTACHMENT_COLUMNS = ['message_id', 'filename', 'content_type', 'size', 'sha256', 'content_id', 'inline'];

/**
 * A new message row and its attachments; its id. In the ingest's batch on PostgreSQL the row waits for the flush
 * with the batch's others, under an id taken ahead (ids-ahead.ts): one INSERT for the batch's messages instead of
 * a round trip per mail. Its readers are plain SQL (src/db/sql.ts): the unit writes it before one of them runs.
 * Elsewhere, and on SQLite, it is written at once and the database gives its id.
 */
export async function insertMessage(trx: Queryable, m: NewMessage): Promise<number> {
  const values = [
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
  ];
  const reserved = await reservedMessageId(trx);
  const id = reserved ?? (await insertId(trx, INSERT_MESSAGE, values))!;
  if (reserved !== undefined) await insertLater(trx, 'messages', MESSAGE_COLUMNS_WITH_ID, [[id, ...values]]);
  // Not seen by a notice's thread read ahead before it (notice-thread-ahead.ts): counted there from memory.
  messageWrittenAhead(trx, m, id);
  // In the ingest's batch with the batch's others (insertLater): the unit writes them before attachmentsOf reads. The
  // flush writes a table's rows in the order the tables first waited: the message before its attachments.
  await insertLater(
    trx,
    'attachments',
    ATTACHMENT_COLUMNS,
    m.attachments.map((a) => [id, a.filename, a.contentType, a.size, a.sha256, a.contentId, a.inline]),
  );
  return id;
}

/**
 * The messages of a case still waiting for the flush (insertMessage) that have a Message-ID, as a read of the case's
 * thread returns them: such a read adds them to what it read instead of having the batch written first (threadOf).
 */
export function waitingThreadRows(
  q: Queryable,
  ticketId: number,
): Array<{ id: number; message_id: string; created_at: number; from_address: string | null }> {
  const withId = rowsWhere({ ticket_id: ticketId }, (v) => v('message_id') != null);
  return waitingRows(q, 'messages', withId).map((r) => ({
    id: r.id as number,
    message_id: r.message_id as string,
    created_at: r.created_at as number,
    from_address: (r.from_address as string | undefined) ?? null,
  }));
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
 * the log are plain SQL, which the unit runs after writing them. */
export async function insertEvent(trx: Queryable, e: NewEvent): Promise<void> {
  await insertLater(trx, 'events', EVENT_COLUMNS, [
    [e.ticketId, e.type, e.actor, e.from, e.to, e.reason, e.data ? JSON.stringify(e.data) : null, e.at],
  ]);
}
