import { isPostgres } from '../knex.ts';
import { rows, type Queryable } from '../sql.ts';
import { memoKey, UnitOfWork } from '../unit-of-work.ts';

/**
 * Ids of message and case rows taken ahead, for the ingest's batch on PostgreSQL: a message row (and a new case's row)
 * can then wait for the batch's flush (insertLater) with the others, since its id (which the mail's attachments,
 * ledger row, outbox keys and links name at once) is already known. One statement takes the ids of all the mails
 * still to apply, a message id and a case id for each (a mail opens at most one case); each row takes the next.
 *
 * Ids taken and never used (a mail that ends up ignored, quarantined or a reply, a batch rolled back) are gaps in an
 * internal key that nothing counts: harmless, as the gaps a rolled-back insert leaves in the sequence anyway. A
 * savepoint rolled back hands its ids back (the child's memo is dropped): its rows are gone with it, so the next mail
 * may use them. The batch's rows keep their order by id; a message another transaction writes to one of their cases
 * while the batch runs may get a higher id than the batch's later one, as it could already commit in either order.
 */
interface Reserved {
  /** Taken from the messages' sequence, in ascending order. */
  ids: readonly number[];
  /** The next one to use. */
  next: number;
  /** Taken from the cases' sequence with them, in ascending order, and the next one to use. */
  ticketIds: readonly number[];
  nextTicket: number;
  /** How many to take when they run out: the batch's mails still to apply; 0 outside a batch (insert at once). */
  wanted: number;
  /** Whether a new case's row may wait too (expectNewRows). */
  cases: boolean;
}

/** State about the whole transaction: a mail's unit takes from its batch's (a copy, in a savepoint) and hands back
 * what is left. */
const RESERVED = memoKey<Reserved>(
  'ingest.idsAhead',
  () => ({ ids: [], next: 0, ticketIds: [], nextTicket: 0, wanted: 0, cases: false }),
  (parent) => ({ ...parent }),
);

/** At most this many at once: a batch is far smaller. */
const MOST = 1000;

const TAKE_IDS =
  `select nextval(pg_get_serial_sequence('messages', 'id')) as "id", ` +
  `nextval(pg_get_serial_sequence('tickets', 'id')) as "ticket_id" from generate_series(1, cast(? as integer))`;

/**
 * The ingest's batch, before each mail: `count` mails (this one included) may still write a message, and open a case.
 * Where those rows wait for the flush (PostgreSQL), the next ids taken cover them all. `cases`: whether a new case's
 * row may wait too; not where the outbox writes its rows at once (the careful rerun), since they name their case.
 */
export function expectNewRows(uow: UnitOfWork, count: number, cases = false): void {
  const r = uow.memo(RESERVED);
  r.wanted = Math.max(1, Math.min(count, MOST));
  r.cases = cases;
}

/**
 * The id a new message row of `q` gets before it is written, when it can wait for the flush: in a batch that expects
 * new rows (expectNewRows), on PostgreSQL. Undefined otherwise: the row is written at once and gets its id from the
 * database (on SQLite, in process, that costs no round trip).
 */
export async function reservedMessageId(q: Queryable): Promise<number | undefined> {
  const r = await reserved(q, (r) => r.next >= r.ids.length);
  return r && r.ids[r.next++];
}

/** As reservedMessageId, for a new case's row (tickets.ts). */
export async function reservedTicketId(q: Queryable): Promise<number | undefined> {
  if (!(q instanceof UnitOfWork) || !q.memo(RESERVED).cases) return undefined;
  const r = await reserved(q, (r) => r.nextTicket >= r.ticketIds.length);
  return r && r.ticketIds[r.nextTicket++];
}

/** The unit's ids taken ahead, taken again for the mails still to apply when `spent` says they ran out. */
async function reserved(q: Queryable, spent: (r: Reserved) => boolean): Promise<Reserved | undefined> {
  if (!(q instanceof UnitOfWork) || !isPostgres(q)) return undefined;
  const r = q.memo(RESERVED);
  if (!r.wanted) return undefined;
  if (spent(r)) {
    const taken = await rows<{ id: string | number; ticket_id: string | number }>(q, TAKE_IDS, [r.wanted]);
    r.ids = taken.map((t) => Number(t.id)).sort((a, b) => a - b);
    r.ticketIds = taken.map((t) => Number(t.ticket_id)).sort((a, b) => a - b);
    r.next = 0;
    r.nextTicket = 0;
  }
  return r;
}
