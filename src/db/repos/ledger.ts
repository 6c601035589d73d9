import { insertLater, padded, placeholders, rows, knexOf, waitingRows, type Queryable } from '../sql.ts';
import { memoKey, UnitOfWork } from '../unit-of-work.ts';

export interface LedgerRow {
  sourceKey: string;
  mailbox?: string;
  uidvalidity?: number;
  uid?: number;
  messageId?: string;
  contentHash: string;
  outcome: 'accepted' | 'ignored' | 'rejected';
  effect?: string;
  reason?: string;
  ticketId?: number;
  messageRowId?: number;
  quarantineId?: number;
  createdAt: number;
}

const fromRow = (r: any): LedgerRow => ({
  sourceKey: r.source_key,
  mailbox: r.mailbox ?? undefined,
  uidvalidity: r.uidvalidity == null ? undefined : Number(r.uidvalidity),
  uid: r.uid == null ? undefined : Number(r.uid),
  messageId: r.message_id ?? undefined,
  contentHash: r.content_hash,
  outcome: r.outcome,
  effect: r.effect ?? undefined,
  reason: r.reason ?? undefined,
  ticketId: r.ticket_id == null ? undefined : Number(r.ticket_id),
  messageRowId: r.message_row_id == null ? undefined : Number(r.message_row_id),
  quarantineId: r.quarantine_id == null ? undefined : Number(r.quarantine_id),
  createdAt: Number(r.created_at),
});

/** The ledger rows of several sources at once (a poller batch), by source key. */
export async function findLedgers(db: Queryable, sourceKeys: readonly string[]): Promise<Map<string, LedgerRow>> {
  const out = new Map<string, LedgerRow>();
  for (let i = 0; i < sourceKeys.length; i += 500) {
    const keys = sourceKeys.slice(i, i + 500);
    const found = await rows(
      db,
      `select * from "ingest_ledger" where "source_key" in ${placeholders(1, keys.length)}`,
      keys,
    );
    for (const r of found) out.set(r.source_key, fromRow(r));
  }
  return out;
}

/** Every mail asks this (plain SQL, src/db/sql.ts): earlier deliveries of the same content or Message-ID. */
export async function previousDeliveries(db: Queryable, contentHash: string, messageId?: string): Promise<LedgerRow[]> {
  const ahead = db instanceof UnitOfWork ? db.memo(DELIVERIES_AHEAD) : undefined;
  if (ahead && covers(ahead, contentHash, messageId)) return deliveriesIn(ahead, contentHash, messageId);
  // An earlier mail of the same batch may have left its row waiting (insertLedger): written first if it matches.
  const matters = {
    ingest_ledger: {
      test: (v: (column: string) => unknown) =>
        v('content_hash') === contentHash || (messageId !== undefined && v('message_id') === messageId),
      narrow: [
        { column: 'content_hash', values: [contentHash] },
        { column: 'message_id', values: messageId === undefined ? [] : [messageId] },
      ],
    },
  };
  const found = messageId
    ? await rows(
        db,
        'select * from "ingest_ledger" where "content_hash" = ? or "message_id" = ? limit 20',
        [contentHash, messageId],
        matters,
      )
    : await rows(db, 'select * from "ingest_ledger" where "content_hash" = ? limit 20', [contentHash], matters);
  return found.map(fromRow);
}

/**
 * What a unit of work read ahead of its mails' turns (lookAheadDeliveries): which content hashes and Message-IDs it
 * asked, the ledger rows it found, and the rows the unit wrote since. A mail in its own savepoint works on a copy: a
 * mail rolled back takes its rows with it.
 */
interface DeliveriesAhead {
  hashes: Set<string>;
  messageIds: Set<string>;
  found: LedgerRow[];
  written: LedgerRow[];
}
const DELIVERIES_AHEAD = memoKey<DeliveriesAhead | undefined>(
  'ledger.deliveriesAhead',
  () => undefined,
  (parent) => parent && { ...parent, written: parent.written.slice() },
);

const covers = (ahead: DeliveriesAhead, contentHash: string, messageId?: string): boolean =>
  ahead.hashes.has(contentHash) && (messageId === undefined || ahead.messageIds.has(messageId));

function deliveriesIn(ahead: DeliveriesAhead, contentHash: string, messageId?: string): LedgerRow[] {
  const out: LedgerRow[] = [];
  const seen = new Set<string>();
  for (const list of [ahead.found, ahead.written])
    for (const r of list) {
      if (out.length === 20 || seen.has(r.sourceKey)) continue;
      if (r.contentHash !== contentHash && (messageId === undefined || r.messageId !== messageId)) continue;
      seen.add(r.sourceKey);
      out.push(r);
    }
  return out;
}

/** Mails read ahead in one statement: in powers of two (the list padded with its last value), a few texts for all. */
const AHEAD_MOST = 64;

/**
 * Reads the earlier deliveries of `first` and of `later` (mails of the same batch, ready before their turn) in one
 * statement, unless `first` was read ahead already or no mail is ready after it: previousDeliveries then answers
 * them from memory, with the rows the unit wrote since, instead of one read per mail. Rows another process commits
 * after this read are not seen, as they would not be by a read a moment earlier: the effect's unique claim
 * (claimEffect) is what stops a second effect; a mail retried after losing that race reads again
 * (forgetDeliveriesAhead).
 */
export async function lookAheadDeliveries(
  uow: UnitOfWork,
  first: { contentHash: string; messageId?: string },
  later: ReadonlyArray<{ contentHash: string; messageId?: string }>,
): Promise<void> {
  const ahead = uow.memo(DELIVERIES_AHEAD) ?? { hashes: new Set(), messageIds: new Set(), found: [], written: [] };
  if (covers(ahead, first.contentHash, first.messageId)) return;
  const mails = [first, ...later.filter((m) => !covers(ahead, m.contentHash, m.messageId))].slice(0, AHEAD_MOST);
  // No mail ready after this one (the parse has not got ahead, as on SQLite, where the batch keeps up with it): its
  // own read in previousDeliveries is as good.
  if (mails.length === 1) return;
  const hashes = padded(mails.map((m) => m.contentHash));
  const ids = padded(mails.flatMap((m) => (m.messageId === undefined ? [] : [m.messageId])));
  const found = await rows(
    uow,
    `select * from "ingest_ledger" where "content_hash" in ${placeholders(1, hashes.length)}` +
      (ids.length ? ` or "message_id" in ${placeholders(1, ids.length)}` : ''),
    [...hashes, ...ids],
    // The unit's own waiting rows are counted from memory below, so they need not be written for this read.
    { ingest_ledger: () => false },
  );
  for (const r of found) ahead.found.push(fromRow(r));
  // The unit's rows still waiting to be written (insertLater) are not in the ledger yet: they count as found.
  for (const r of waitingRows(uow, 'ingest_ledger')) ahead.found.push(fromRow(r));
  for (const m of mails) {
    ahead.hashes.add(m.contentHash);
    if (m.messageId !== undefined) ahead.messageIds.add(m.messageId);
  }
  uow.setMemo(DELIVERIES_AHEAD, ahead);
}

/** A mail that lost the race for its effect to another process runs again and reads what that one committed. */
export function forgetDeliveriesAhead(uow: UnitOfWork): void {
  uow.setMemo(DELIVERIES_AHEAD, undefined);
}

const LEDGER_COLUMNS = [
  'source_key',
  'mailbox',
  'uidvalidity',
  'uid',
  'message_id',
  'content_hash',
  'outcome',
  'effect',
  'reason',
  'ticket_id',
  'message_row_id',
  'quarantine_id',
  'created_at',
];
/** The mail's ledger row; in the ingest's batch written with the batch's others (insertLater). */
export async function insertLedger(trx: Queryable, row: LedgerRow): Promise<void> {
  if (trx instanceof UnitOfWork) trx.memo(DELIVERIES_AHEAD)?.written.push(row);
  await insertLater(trx, 'ingest_ledger', LEDGER_COLUMNS, [
    [
      row.sourceKey,
      row.mailbox,
      row.uidvalidity,
      row.uid,
      row.messageId,
      row.contentHash,
      row.outcome,
      row.effect,
      row.reason,
      row.ticketId,
      row.messageRowId,
      row.quarantineId,
      row.createdAt,
    ],
  ]);
}

/**
 * Whether `err` is the ledger's unique source key refusing a row: another process recorded this very source first
 * (an MTA handing one message to two `mesa ingest -` at once). Matched by the constraint, not the SQL text: knex puts
 * the whole INSERT in the message.
 */
export function isLedgerKeyTaken(err: unknown): boolean {
  const e = err as { code?: string; constraint?: string; message?: string } | undefined;
  if (e?.code === '23505') return e.constraint === 'ingest_ledger_source_key_unique';
  return /^SQLITE_CONSTRAINT/.test(String(e?.code)) && /ingest_ledger\.source_key/.test(String(e?.message));
}

/** Claims the content hash for an effect. A second delivery racing the first fails when this row is written (in the
 * ingest's batch, with the batch's others: the batch then runs again mail by mail, and the mail that failed is retried
 * as a duplicate). The unique key is what makes "one effect" hold across instances on PostgreSQL. */
export async function claimEffect(trx: Queryable, contentHash: string, sourceKey: string): Promise<void> {
  await insertLater(trx, 'ingest_effects', ['content_hash', 'source_key'], [[contentHash, sourceKey]]);
}

export async function outcomeCounts(queryable: Queryable): Promise<Record<string, number>> {
  const db = knexOf(queryable);
  const rows = await db('ingest_ledger').select('outcome').count({ n: '*' }).groupBy('outcome');
  return Object.fromEntries(rows.map((r: any) => [r.outcome, Number(r.n)]));
}
