import { flushFor, knexOf, type Queryable } from '../sql.ts';
import { messagesOfCaseWritten } from './case-messages.ts';

/** Single message rows, as the notifier and the status page read them. SQL only. In the ingest's batch a message row
 * may still wait for the flush (insertMessage): each read here writes the waiting ones it could return first. */

export async function findMessage(queryable: Queryable, id: number): Promise<any> {
  await flushFor(queryable, 'messages', (v) => v('id') === id);
  const db = knexOf(queryable);
  return db('messages').where({ id }).first();
}

/** The case's latest message from its customer (what a consultant's notice quotes when no message is named). */
export async function lastCustomerMessage(queryable: Queryable, ticketId: number): Promise<any> {
  await messagesOfCaseWritten(queryable, ticketId);
  const db = knexOf(queryable);
  return db('messages').where({ ticket_id: ticketId, role: 'customer' }).orderBy('id', 'desc').first();
}

/** An attachment of a message the customer sees on the case (not internal, from the customer or support). */
export async function visibleAttachment(
  queryable: Queryable,
  ticketId: number,
  attachmentId: number,
): Promise<{ filename: string; content_type: string; sha256: string } | undefined> {
  await messagesOfCaseWritten(queryable, ticketId);
  await flushFor(queryable, 'attachments');
  const db = knexOf(queryable);
  return db('attachments')
    .join('messages', 'messages.id', 'attachments.message_id')
    .where({ 'attachments.id': attachmentId, 'messages.ticket_id': ticketId, 'messages.internal': false })
    .whereIn('messages.role', ['customer', 'consultant'])
    .first('attachments.filename', 'attachments.content_type', 'attachments.sha256');
}
