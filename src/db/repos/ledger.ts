import type { Db } from '../knex.ts';

export interface LedgerRow {
  sourceKey: string; mailbox?: string; uidvalidity?: number; uid?: number; messageId?: string; contentHash: string;
  outcome: 'accepted' | 'ignored' | 'rejected'; effect?: string; reason?: string; ticketId?: number;
  messageRowId?: number; quarantineId?: number; createdAt: number;
}

const fromRow = (r: any): LedgerRow => ({
  sourceKey: r.source_key, mailbox: r.mailbox ?? undefined, uidvalidity: r.uidvalidity == null ? undefined : Number(r.uidvalidity),
  uid: r.uid == null ? undefined : Number(r.uid), messageId: r.message_id ?? undefined, contentHash: r.content_hash,
  outcome: r.outcome, effect: r.effect ?? undefined, reason: r.reason ?? undefined,
  ticketId: r.ticket_id == null ? undefined : Number(r.ticket_id), messageRowId: r.message_row_id == null ? undefined : Number(r.message_row_id),
  quarantineId: r.quarantine_id == null ? undefined : Number(r.quarantine_id), createdAt: Number(r.created_at),
});

/** The ledger rows of several sources at once (a poller batch), by source key. */
export async function findLedgers(db: Db, sourceKeys: readonly string[]): Promise<Map<string, LedgerRow>> {
  const out = new Map<string, LedgerRow>();
  for (let i = 0; i < sourceKeys.length; i += 500) {
    for (const r of await db('ingest_ledger').whereIn('source_key', sourceKeys.slice(i, i + 500))) out.set(r.source_key, fromRow(r));
  }
  return out;
}

export async function previousDeliveries(db: Db, contentHash: string, messageId?: string): Promise<LedgerRow[]> {
  const q = db('ingest_ledger').where({ content_hash: contentHash });
  if (messageId) q.orWhere({ message_id: messageId });
  return (await q.limit(20)).map(fromRow);
}

export async function insertLedger(trx: Db, row: LedgerRow): Promise<void> {
  await trx('ingest_ledger').insert({
    source_key: row.sourceKey, mailbox: row.mailbox ?? null, uidvalidity: row.uidvalidity ?? null, uid: row.uid ?? null,
    message_id: row.messageId ?? null, content_hash: row.contentHash, outcome: row.outcome, effect: row.effect ?? null,
    reason: row.reason ?? null, ticket_id: row.ticketId ?? null, message_row_id: row.messageRowId ?? null,
    quarantine_id: row.quarantineId ?? null, created_at: row.createdAt,
  });
}

/** Claims the content hash for an effect. A second delivery racing the first fails here and is retried as a
 * duplicate (the unique key is what makes "one effect" hold across instances on PostgreSQL). */
export async function claimEffect(trx: Db, contentHash: string, sourceKey: string): Promise<void> {
  await trx('ingest_effects').insert({ content_hash: contentHash, source_key: sourceKey });
}

export async function outcomeCounts(db: Db): Promise<Record<string, number>> {
  const rows = await db('ingest_ledger').select('outcome').count({ n: '*' }).groupBy('outcome');
  return Object.fromEntries(rows.map((r: any) => [r.outcome, Number(r.n)]));
}
