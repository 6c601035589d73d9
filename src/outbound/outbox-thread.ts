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
    const withId: CaseMessage[] = [];
    for (const k of known) if (k.messageId) withId.push(k);
    withId.sort((a, b) => a.id - b.id);
    root = withId[0]?.messageId;
    theirs = [];
    for (let i = withId.length - 1; i >= 0 && theirs.length < THREAD_LIMIT; i--) {
      const k = withId[i];
      if (k.fromAddress === to) theirs.push({ message_id: k.messageId!, created_at: k.createdAt });
    }
    ours = [];
    const mine = uow.peekMemo(ENQUEUED)?.get(`${ticket.id}\0${to}`);
    if (mine) for (let i = mine.length - 1; i >= 0 && ours.length < THREAD_LIMIT; i--) ours.push(mine[i]);
  } else {
    // Read with this mail's link (readWithLink), or now. A copy: threadFrom adds what still waits to the rows.
    const found = read ? [...read] : await outbox.threadRows(uow, ticket.id, to, THREAD_LIMIT);
    ({ root, theirs, ours } = outbox.threadFrom(uow, found, ticket.id, to, THREAD_LIMIT));
  }
  // Loops into array literals rather than spreads and maps: one kind of array whatever came in (see
  // MailNotifier.files), so this code is not optimized again for each mix of empty and full lists.
  const recent: outbox.ThreadRow[] = [];
  for (const r of theirs) recent.push(r);
  for (const r of ours) recent.push(r);
  recent.sort((a, b) => Number(a.created_at) - Number(b.created_at));
  const references: string[] = [];
  if (root) references.push(root);
  for (const r of recent) {
    const id = String(r.message_id);
    if (id && !references.includes(id)) references.push(id);
  }
  const last10 = references.length > 10 ? references.slice(-10) : references;
  return { references: last10, inReplyTo: last10.at(-1) };
}
