import { knexOf, type Queryable } from '../sql.ts';

export interface QuarantineRow {
  id: number;
  rawSha256: string;
  size: number;
  sourceKey: string;
  mailbox?: string;
  reason: string;
  detail?: string;
  fromAddress?: string;
  subject?: string;
  messageId?: string;
  state: 'held' | 'replayed';
  replayResult?: string;
  createdAt: number;
  replayedAt?: number;
}

const fromRow = (r: any): QuarantineRow => ({
  id: Number(r.id),
  rawSha256: r.raw_sha256,
  size: Number(r.size),
  sourceKey: r.source_key,
  mailbox: r.mailbox ?? undefined,
  reason: r.reason,
  detail: r.detail ?? undefined,
  fromAddress: r.from_address ?? undefined,
  subject: r.subject ?? undefined,
  messageId: r.message_id ?? undefined,
  state: r.state,
  replayResult: r.replay_result ?? undefined,
  createdAt: Number(r.created_at),
  replayedAt: r.replayed_at == null ? undefined : Number(r.replayed_at),
});

export async function insertQuarantine(queryable: Queryable, q: Omit<QuarantineRow, 'id' | 'state'>): Promise<number> {
  const trx = knexOf(queryable);
  const [inserted] = await trx('quarantine')
    .insert({
      raw_sha256: q.rawSha256,
      size: q.size,
      source_key: q.sourceKey,
      mailbox: q.mailbox ?? null,
      reason: q.reason,
      detail: q.detail?.slice(0, 2000) ?? null,
      from_address: q.fromAddress ?? null,
      subject: q.subject?.slice(0, 1000) ?? null,
      message_id: q.messageId?.slice(0, 998) ?? null,
      state: 'held',
      created_at: q.createdAt,
    })
    .returning('id');
  return Number(typeof inserted === 'object' ? inserted.id : inserted);
}

export async function listQuarantine(queryable: Queryable, opts: { all?: boolean } = {}): Promise<QuarantineRow[]> {
  const db = knexOf(queryable);
  const q = db('quarantine').orderBy('id');
  if (!opts.all) q.where({ state: 'held' });
  return (await q).map(fromRow);
}

export async function getQuarantine(queryable: Queryable, id: number): Promise<QuarantineRow | undefined> {
  const db = knexOf(queryable);
  const r = await db('quarantine').where({ id }).first();
  return r ? fromRow(r) : undefined;
}

export async function markReplayed(queryable: Queryable, id: number, result: string, at: number): Promise<void> {
  const trx = knexOf(queryable);
  await trx('quarantine').where({ id }).update({ state: 'replayed', replay_result: result, replayed_at: at });
}

export async function updateQuarantineReason(
  queryable: Queryable,
  id: number,
  reason: string,
  detail: string,
): Promise<void> {
  const db = knexOf(queryable);
  await db('quarantine')
    .where({ id })
    .update({ reason, detail: detail.slice(0, 2000) });
}
