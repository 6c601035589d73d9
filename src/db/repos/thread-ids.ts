import { memoKey, UnitOfWork } from '../unit-of-work.ts';
import { insertLater, type Queryable } from '../sql.ts';
import { threadIdsWritten } from './threads-ahead.ts';

/** While threadIdsTogether() runs for a unit of work: the Message-IDs to record, by case, not yet in thread_ids. */
const PENDING_THREAD_IDS = memoKey<Map<number, string[]> | undefined>('tickets.pendingThreadIds', () => undefined);

/** Records Message-IDs that thread into the case; inside threadIdsTogether(uow), when that ends. */
export async function addThreadIds(trx: Queryable, ticketId: number, ids: readonly string[]): Promise<void> {
  const pending = trx instanceof UnitOfWork ? trx.peekMemo(PENDING_THREAD_IDS) : undefined;
  if (!pending) return writeThreadIds(trx, ticketId, ids);
  let list = pending.get(ticketId);
  if (!list) pending.set(ticketId, (list = []));
  for (const id of ids) list.push(id);
}

async function writeThreadIds(trx: Queryable, ticketId: number, ids: readonly string[]): Promise<void> {
  const unique = [...new Set(ids.filter((i) => i && i.length < 998))];
  if (!unique.length) return;
  threadIdsWritten(trx, unique);
  await insertLater(
    trx,
    'thread_ids',
    ['message_id', 'ticket_id'],
    unique.map((id) => [id, ticketId]),
    'on conflict ("message_id", "ticket_id") do nothing',
  );
}

/**
 * Runs `fn` (one change to cases: a case opened or a message added, with the mail it enqueues) and records the
 * Message-IDs it adds to thread_ids in one INSERT per case when it ends, instead of one per call: the mail's own
 * Message-ID and references, then the confirmation's and each notice's. The rows are the same; nothing inside `fn`
 * reads thread_ids (only the next mail's context does). They are written also when `fn` fails, as they were call by
 * call (unless the database refuses). Nested calls for the same transaction run inside the outer one.
 */
export async function threadIdsTogether<T>(trx: UnitOfWork, fn: () => Promise<T>): Promise<T> {
  if (trx.peekMemo(PENDING_THREAD_IDS)) return fn();
  const pending = new Map<number, string[]>();
  trx.setMemo(PENDING_THREAD_IDS, pending);
  let out: T;
  try {
    out = await fn();
  } catch (err) {
    trx.setMemo(PENDING_THREAD_IDS, undefined);
    for (const [ticketId, ids] of pending) await writeThreadIds(trx, ticketId, ids).catch(() => undefined);
    throw err;
  }
  trx.setMemo(PENDING_THREAD_IDS, undefined);
  for (const [ticketId, ids] of pending) await writeThreadIds(trx, ticketId, ids);
  return out;
}
