import { knexOf, type Queryable } from '../sql.ts';

/** What /healthz and /metrics read: the database answering at all, and counts by state. SQL only. */

export async function pingDatabase(queryable: Queryable): Promise<void> {
  const db = knexOf(queryable);
  await db.raw('select 1');
}

export function hasOutboxTable(queryable: Queryable): Promise<boolean> {
  const db = knexOf(queryable);
  return db.schema.hasTable('outbox');
}

export async function outboxCountsByState(queryable: Queryable): Promise<Array<{ state: string; n: number }>> {
  const db = knexOf(queryable);
  const rows: any[] = await db('outbox').select('state').count({ n: '*' }).groupBy('state');
  return rows.map((r) => ({ state: String(r.state), n: Number(r.n) }));
}

/** Cases not closed, by priority. */
export async function openCaseCountsByPriority(queryable: Queryable): Promise<Map<string, number>> {
  const db = knexOf(queryable);
  const rows = await db('tickets')
    .whereNot('stage', 'cerrado')
    .select('priority')
    .count({ n: '*' })
    .groupBy('priority');
  return new Map<string, number>(rows.map((r: any) => [String(r.priority), Number(r.n)] as [string, number]));
}

export async function heldQuarantineCount(queryable: Queryable): Promise<number> {
  const db = knexOf(queryable);
  const r = await db('quarantine').where({ state: 'held' }).count({ n: '*' }).first();
  return Number(r?.n ?? 0);
}
