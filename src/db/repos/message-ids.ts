import { isPostgres } from '../knex.ts';
import { rows, type Queryable } from '../sql.ts';
import { memoKey, UnitOfWork } from '../unit-of-work.ts';

/**
 * Ids of message rows taken ahead, for the ingest's batch on PostgreSQL: a message row can then wait for the batch's
 * flush (insertLater) with the others, since its id (which the mail's attachments, ledger row and outbox keys name at
 * once) is already known. One statement takes the ids of all the mails still to apply; each message takes the next.
 *
 * Ids taken and never used (a mail that ends up ignored or quarantined, a batch rolled back) are gaps in an internal
 * key that nothing counts: harmless, as the gaps a rolled-back insert leaves in the sequence anyway. A savepoint
 * rolled back hands its ids back (the child's memo is dropped): its rows are gone with it, so the next mail may use
 * them. The batch's messages keep their order by id; a message another transaction writes to one of their cases
 * while the batch runs may get a higher id than the batch's later one, as it could already commit in either order.
 */
interface Reserved {
  /** Taken from the sequence, in ascending order. */
  ids: readonly number[];
  /** The next one to use. */
  next: number;
  /** How many to take when they run out: the batch's mails still to apply; 0 outside a batch (insert at once). */
  wanted: number;
}

/** State about the whole transaction: a mail's unit takes from its batch's (a copy, in a savepoint) and hands back
 * what is left. */
const RESERVED = memoKey<Reserved>(
  'messages.reservedIds',
  () => ({ ids: [], next: 0, wanted: 0 }),
  (parent) => ({ ...parent }),
);

/** At most this many at once: a batch is far smaller. */
const MOST = 1000;

const TAKE_IDS =
  `select nextval(pg_get_serial_sequence('messages', 'id')) as "id" ` + 'from generate_series(1, cast(? as integer))';

/**
 * The ingest's batch, before each mail: `count` mails (this one included) may still write a message. Where message
 * rows wait for the flush (PostgreSQL), the next ids taken cover them all.
 */
export function expectMessages(uow: UnitOfWork, count: number): void {
  uow.memo(RESERVED).wanted = Math.max(1, Math.min(count, MOST));
}

/**
 * The id a new message row of `q` gets before it is written, when it can wait for the flush: in a batch that expects
 * messages (expectMessages), on PostgreSQL. Undefined otherwise: the row is written at once and gets its id from the
 * database (on SQLite, in process, that costs no round trip).
 */
export async function reservedMessageId(q: Queryable): Promise<number | undefined> {
  if (!(q instanceof UnitOfWork) || !isPostgres(q)) return undefined;
  const r = q.memo(RESERVED);
  if (!r.wanted) return undefined;
  if (r.next >= r.ids.length) {
    const taken = await rows<{ id: string | number }>(q, TAKE_IDS, [r.wanted]);
    r.ids = taken.map((t) => Number(t.id)).sort((a, b) => a - b);
    r.next = 0;
  }
  return r.ids[r.next++];
}
