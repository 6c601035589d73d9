import * as outbox from '../db/repos/outbox.ts';
import { noticeThreadFromAhead } from '../db/repos/notice-thread-ahead.ts';
import { readNoticeThreadsAhead } from '../db/repos/notice-thread-read.ts';
import { memoKey, type UnitOfWork } from '../db/unit-of-work.ts';
import type { Ticket } from '../tickets/types.ts';

/** A message of a case as the caller knows it (MailRequest.caseMessages). */
export type CaseMessage = { id: number; messageId?: string; fromAddress?: string; createdAt: number };

/** Mail (not held) a unit of work enqueued, by case and recipient, in order: the thread of a case opened in it
 * (see threadOf()). A mail's own: a child unit starts without its parent's. */
const ENQUEUED = memoKey('outbox.enqueued', () => new Map<string, Array<{ message_id: string; created_at: number }>>());

/** How many of the recipient's and of our latest messages a mail's References name, besides the case's first. */
const THREAD_LIMIT = 4;

/** A mail's thread as read from the database with its link (readWithLink): what MailRequest.threadRead carries. */
export type ThreadRead = readonly any[];

/**
 * Before a mail to `to` on `t` that carries the case's link and reads its thread from the database (no
 * MailRequest.caseMessages): that recipient's link generations (what LinkService.issueLink reads), and the mail's
 * thread, in one statement. The caller hands the thread to the enqueue of that mail (MailRequest.threadRead).
 *
 * In the ingest's batch the statement reads ahead (readNoticeThreadsAhead): for this pair and for the pairs of the
 * cases the ready mails name, each × `recipientsOf` it (the consultants its notices go to); a later notice to a pair
 * read so answers from memory, with what the batch wrote since (noticeThreadFromAhead).
 */
export async function readWithLink(
  uow: UnitOfWork,
  t: Ticket,
  to: string,
  recipientsOf: (t: Ticket) => readonly string[],
) {
  const recipient = to.toLowerCase();
  let thread: ThreadRead | undefined = noticeThreadFromAhead(uow, t.id, recipient, THREAD_LIMIT);
  if (!thread && (await readNoticeThreadsAhead(uow, t, recipient, THREAD_LIMIT, recipientsOf)))
    thread = noticeThreadFromAhead(uow, t.id, recipient, THREAD_LIMIT);
  thread ??= await outbox.threadRows(uow, t.id, recipient, THREAD_LIMIT, true);
  return { generations: outbox.linkGenerationsIn(thread), thread };
}

/** Records mail enqueued (not held) in this unit of work, for threadOf() of a case opened in it. */
export function rememberEnqueued(uow: UnitOfWork, ticketId: number, to: string, messageId: string, at: number): void {
  const byKey = uow.memo(ENQUEUED);
  const key = `${ticketId}\0${to}`;
  byKey.set(key, [...(byKey.get(key) ?? []), { message_id: messageId, created_at: at }]);
}

/** References: the case's first mail, then this recipient's latest exchange with us; In-Reply-To: the last. */
export async function threadOf(
  uow: UnitOfWork,
  ticket: Ticket,
  to: string,
  known?: readonly CaseMessage[],
  read?: ThreadRead,
): Promise<{ references: string[]; inReplyTo?: string }> {
  let root: string | undefined;
  let theirs: outbox.ThreadRow[];
  let ours: outbox.ThreadRow[];
  if (known) {
    // The same reads as threadOf's, over the messages the caller handed in; and a case opened in this
    // transaction has no mail but what this transaction enqueued: taken from memory.
    const withId = known.filter((k) => k.messageId).sort((a, b) => a.id - b.id);
    root = withId[0]?.messageId;
    // Newest first, as threadRows reads them.
    theirs = withId
      .filter((k) => k.fromAddress === to)
      .slice(-THREAD_LIMIT)
      .reverse()
      .map((k) => ({ message_id: k.messageId!, created_at: k.createdAt }));
    const mine = uow.peekMemo(ENQUEUED)?.get(`${ticket.id}\0${to}`) ?? [];
    ours = mine.slice(-THREAD_LIMIT).reverse();
  } else {
    // Read with this mail's link (readWithLink), or now. A copy: threadFrom adds what still waits to the rows.
    const found = read ? [...read] : await outbox.threadRows(uow, ticket.id, to, THREAD_LIMIT);
    ({ root, theirs, ours } = outbox.threadFrom(uow, found, ticket.id, to, THREAD_LIMIT));
  }
  const recent = [...theirs, ...ours].sort((a, b) => Number(a.created_at) - Number(b.created_at));
  const ids = recent.map((r) => String(r.message_id)).filter((id) => id);
  // Each Message-ID once, the case's first mail ahead of the rest.
  const references = [...new Set(root ? [root, ...ids] : ids)];
  const last10 = references.length > 10 ? references.slice(-10) : references;
  return { references: last10, inReplyTo: last10.at(-1) };
}
