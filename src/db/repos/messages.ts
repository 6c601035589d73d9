import { row, type Queryable } from '../sql.ts';

/** Single message rows, as the notifier and the status page read them. Plain SQL (src/db/sql.ts): in the ingest's
 * batch a message row may still wait for the flush (insertMessage), and the unit writes the waiting ones a read
 * could return before it runs (`matters`). */

export function findMessage(queryable: Queryable, id: number): Promise<any> {
  return row(queryable, 'select * from "messages" where "id" = ?', [id], { messages: (v) => v('id') === id });
}

/** The case's latest message from its customer (what a consultant's notice quotes when no message is named). */
export function lastCustomerMessage(queryable: Queryable, ticketId: number): Promise<any> {
  return row(
    queryable,
    'select * from "messages" where "ticket_id" = ? and "role" = ? order by "id" desc limit 1',
    [ticketId, 'customer'],
    { messages: (v) => v('ticket_id') === ticketId },
  );
}

/** An attachment of a message the customer sees on the case (not internal, from the customer or support). Waiting
 * attachments carry no id yet, so any of them may be the one asked for: they are all written first. */
export function visibleAttachment(
  queryable: Queryable,
  ticketId: number,
  attachmentId: number,
): Promise<{ filename: string; content_type: string; sha256: string } | undefined> {
  return row(
    queryable,
    'select "attachments"."filename", "attachments"."content_type", "attachments"."sha256" from "attachments"' +
      ' inner join "messages" on "messages"."id" = "attachments"."message_id" where "attachments"."id" = ?' +
      ' and "messages"."ticket_id" = ? and "messages"."internal" = ? and "messages"."role" in (?, ?) limit 1',
    [attachmentId, ticketId, false, 'customer', 'consultant'],
    { messages: (v) => v('ticket_id') === ticketId },
  );
}
