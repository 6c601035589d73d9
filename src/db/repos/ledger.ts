import { flushFor, insertLater, placeholders, rows, knexOf, type Queryable } from '../sql.ts';

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
  // An earlier mail of the same batch may have left its row waiting (insertLedger): written first if it matches.
  await flushFor(
    db,
    'ingest_ledger',
    (v) => v('content_hash') === contentHash || (messageId !== undefined && v('message_id') === messageId),
  );
  const found = messageId
    ? await rows(db, 'select * from "ingest_ledger" where "content_hash" = ? or "message_id" = ? limit 20', [
        contentHash,
        messageId,
      ])
    : await rows(db, 'select * from "ingest_ledger" where "content_hash" = ? limit 20', [contentHash]);
  // Into an array literal, not map(): one kind of array whether or not the mail was seen before (see the notifier).
  const out: LedgerRow[] = [];
  for (const r of found) out.push(fromRow(r));
  return out;
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
