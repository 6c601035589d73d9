import { rowsWhere, waitingRows, type Queryable } from '../sql.ts';
import { memoKey, UnitOfWork } from '../unit-of-work.ts';

/**
 * The threads of the notices read ahead (readNoticeThreadsAhead in notice-thread-read.ts): in the ingest's batch, the
 * thread rows and link generations of the (case, recipient) pairs its notices are expected to read (readWithLink in
 * src/outbound/outbox-thread.ts) are read in the statement of the first notice that reads, and the later notices to
 * those pairs answer from here. State of the unit of work, under its memo key: no other hand-off.
 */

/** A row as threadRows returns it: `k` 0 the case's first message, 1 a message from the recipient, 2 our mail to
 * them, 3 a generation of their link (the generation as "id", expires_at as "created_at"). */
export interface ThreadReadRow {
  k: number;
  id: number;
  /** Our mail the unit enqueued after the read: newer than every row read, whatever its `id`. */
  unseen?: boolean;
  message_id: string | null;
  created_at: number;
  revoked_at: number | null;
}

/** What one read found for a case: its first message, and per recipient read (every one asked of that read) the
 * latest `limit` messages from them and our mail to them, and their link generations. */
export interface CaseThreadRead {
  limit: number;
  root: readonly ThreadReadRow[];
  byRecipient: ReadonlyMap<string, readonly ThreadReadRow[]>;
}

/**
 * The unit's reads, by case, and the rows of those cases it wrote that the reads did not see: those waiting for the
 * flush when a case was read, and those written since (waiting still, or written by a flush or at once: either way not
 * in what was read). A mail in its own savepoint works on copies of the lists: a mail rolled back takes its rows with
 * it. The reads are shared: they are what the tables held.
 */
interface NoticeThreadsAhead {
  reads: ReadonlyMap<number, CaseThreadRead>;
  messages: Array<{ ticketId: number; id: number; messageId: string; createdAt: number; from: string | null }>;
  outbox: Array<{ ticketId: number; recipient: string; messageId: string; createdAt: number }>;
  links: Array<{ ticketId: number; recipient: string; generation: number; expiresAt: number }>;
}
const NOTICE_THREADS = memoKey<NoticeThreadsAhead | undefined>(
  'outbox.noticeThreadsAhead',
  () => undefined,
  (parent) =>
    parent && {
      reads: parent.reads,
      messages: parent.messages.slice(),
      outbox: parent.outbox.slice(),
      links: parent.links.slice(),
    },
);

const aheadOf = (q: Queryable): NoticeThreadsAhead | undefined =>
  q instanceof UnitOfWork ? q.memo(NOTICE_THREADS) : undefined;

/** Whether the unit read `recipient`'s thread on the case ahead, for threads of `limit`. */
export function noticeThreadReadAhead(q: Queryable, ticketId: number, recipient: string, limit: number): boolean {
  const read = aheadOf(q)?.reads.get(ticketId);
  return read !== undefined && read.limit === limit && read.byRecipient.has(recipient);
}

/**
 * threadRows' rows (links included) for a mail to `recipient` on the case, from a read ahead; undefined when that
 * pair was not read so. The unit's rows the read did not see join them, except those still waiting: threadFrom adds
 * those, as it does to rows read now (the links excepted: threadRows adds the waiting ones, and so does this).
 */
export function noticeThreadFromAhead(
  q: Queryable,
  ticketId: number,
  recipient: string,
  limit: number,
): any[] | undefined {
  const ahead = aheadOf(q);
  const read = ahead?.reads.get(ticketId);
  const mine = read?.byRecipient.get(recipient);
  if (!ahead || !read || !mine || read.limit !== limit) return undefined;
  const found: ThreadReadRow[] = [...read.root, ...mine];
  const messagesWaiting = new Set<unknown>();
  for (const w of waitingRows(q, 'messages', rowsWhere({ ticket_id: ticketId }))) messagesWaiting.add(w.id);
  for (const m of ahead.messages) {
    if (m.ticketId !== ticketId || messagesWaiting.has(m.id)) continue;
    const r = { id: m.id, message_id: m.messageId, created_at: m.createdAt, revoked_at: null };
    found.push({ k: 0, ...r });
    if (m.from === recipient) found.push({ k: 1, ...r });
  }
  const mailWaiting = new Set<unknown>();
  for (const w of waitingRows(q, 'outbox', rowsWhere({ ticket_id: ticketId, recipient })))
    mailWaiting.add(w.message_id);
  for (const [i, o] of ahead.outbox.entries())
    if (o.ticketId === ticketId && o.recipient === recipient && !mailWaiting.has(o.messageId))
      // Enqueued after the read, so newer than every row it found (`unseen`), in the order enqueued (`id`).
      found.push({ k: 2, id: i, unseen: true, message_id: o.messageId, created_at: o.createdAt, revoked_at: null });
  for (const l of ahead.links)
    if (l.ticketId === ticketId && l.recipient === recipient)
      found.push({ k: 3, id: l.generation, message_id: null, created_at: l.expiresAt, revoked_at: null });
  return found;
}

/**
 * Keeps what one statement read for these cases, with the unit's rows of them it did not see (those waiting for the
 * flush as it ran). A case read before is replaced, its earlier unseen rows dropped: the new read saw those the flush
 * wrote since, and the waiting ones are taken again here.
 */
export function keepNoticeThreadsRead(uow: UnitOfWork, reads: ReadonlyMap<number, CaseThreadRead>): void {
  const ahead = uow.memo(NOTICE_THREADS);
  const before = (list: ReadonlyArray<{ ticketId: number }> | undefined) =>
    (list ?? []).filter((r) => !reads.has(r.ticketId));
  const messages = before(ahead?.messages) as NoticeThreadsAhead['messages'];
  const outbox = before(ahead?.outbox) as NoticeThreadsAhead['outbox'];
  const links = before(ahead?.links) as NoticeThreadsAhead['links'];
  const read = (v: (c: string) => unknown) => reads.has(Number(v('ticket_id')));
  for (const w of waitingRows(uow, 'messages', (v) => read(v) && v('message_id') != null))
    messages.push({
      ticketId: Number(w.ticket_id),
      id: Number(w.id),
      messageId: String(w.message_id),
      createdAt: Number(w.created_at),
      from: (w.from_address as string | undefined) ?? null,
    });
  for (const w of waitingRows(uow, 'outbox', (v) => read(v) && v('state') !== 'held'))
    outbox.push({
      ticketId: Number(w.ticket_id),
      recipient: String(w.recipient),
      messageId: String(w.message_id),
      createdAt: Number(w.created_at),
    });
  for (const w of waitingRows(uow, 'links', read))
    links.push({
      ticketId: Number(w.ticket_id),
      recipient: String(w.recipient),
      generation: Number(w.generation),
      expiresAt: Number(w.expires_at),
    });
  // A map of its own: the parent's (shared by inherit) stays as it was if this unit is rolled back.
  uow.setMemo(NOTICE_THREADS, { reads: new Map([...(ahead?.reads ?? []), ...reads]), messages, outbox, links });
}

/** A message the unit wrote on a case (insertMessage): its thread answers count it from memory. */
export function messageWrittenAhead(
  q: Queryable,
  m: { ticketId: number; messageId?: string; createdAt: number; fromAddress?: string },
  id: number,
): void {
  const ahead = aheadOf(q);
  if (m.messageId == null || !ahead?.reads.has(m.ticketId)) return;
  ahead.messages.push({
    ticketId: m.ticketId,
    id,
    messageId: m.messageId,
    createdAt: m.createdAt,
    from: m.fromAddress ?? null,
  });
}

/** Our mail the unit enqueued (insertOutbox), not held: the thread of later mail to that recipient names it. */
export function mailWrittenAhead(
  q: Queryable,
  o: { ticketId?: number; recipient: string; messageId: string; state: string; now: number },
): void {
  const ahead = aheadOf(q);
  if (o.ticketId === undefined || o.state === 'held' || !ahead?.reads.has(o.ticketId)) return;
  ahead.outbox.push({ ticketId: o.ticketId, recipient: o.recipient, messageId: o.messageId, createdAt: o.now });
}

/** A link generation the unit issued (insertLink): the next mail to that recipient carries it. */
export function linkWrittenAhead(
  q: Queryable,
  l: { ticketId: number; recipient: string; generation: number; expiresAt: number },
): void {
  const ahead = aheadOf(q);
  if (!ahead?.reads.has(l.ticketId)) return;
  ahead.links.push({ ticketId: l.ticketId, recipient: l.recipient, generation: l.generation, expiresAt: l.expiresAt });
}

/** Links revoked in the unit (of a case, or `undefined`: any): what was read of them is forgotten, and read again
 * when next asked. */
export function forgetNoticeThreads(q: Queryable, ticketId?: number): void {
  const ahead = aheadOf(q);
  if (!ahead || (ticketId !== undefined && !ahead.reads.has(ticketId))) return;
  const reads = new Map(ticketId === undefined ? [] : ahead.reads);
  reads.delete(ticketId!);
  const kept = <T extends { ticketId: number }>(list: T[]): T[] => list.filter((r) => reads.has(r.ticketId));
  (q as UnitOfWork).setMemo(NOTICE_THREADS, {
    reads,
    messages: kept(ahead.messages),
    outbox: kept(ahead.outbox),
    links: kept(ahead.links),
  });
}
