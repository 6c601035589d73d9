import type { Db } from '../knex.ts';

/** What /healthz and /metrics read: the database answering at all, and counts by state. SQL only. */

export async function pingDatabase(db: Db): Promise<void> {
  await db.raw('select 1');
}

export function hasOutboxTable(db: Db): Promise<boolean> {
  return db.schema.hasTable('outbox');
}

export async function outboxCountsByState(db: Db): Promise<Array<{ state: string; n: number }>> {
  const rows: any[] = await db('outbox').select('state').count({ n: '*' }).groupBy('state');
  return rows.map((r) => ({ state: String(r.state), n: Number(r.n) }));
}

/** Cases not closed, by priority. */
export async function openCaseCountsByPriority(db: Db): Promise<Map<string, number>> {
  const rows = await db('tickets').whereNot('stage', 'cerrado').select('priority').count({ n: '*' }).groupBy('priority');
  return new Map<string, number>(rows.map((r: any) => [String(r.priority), Number(r.n)] as [string, number]));
}

export async function heldQuarantineCount(db: Db): Promise<number> {
  const r = await db('quarantine').where({ state: 'held' }).count({ n: '*' }).first();
  return Number(r?.n ?? 0);
}
