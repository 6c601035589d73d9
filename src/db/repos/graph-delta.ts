import type { Db } from '../knex.ts';

/** The `graph_delta` table: where a Graph mailbox's delta query resumes (migrations/20261205000800_graph_delta.ts). */

export interface DeltaLink {
  link: string;
  kind: 'delta' | 'next';
}

export async function getDeltaLink(db: Db, name: string): Promise<DeltaLink | undefined> {
  const r = await db('graph_delta').where({ name }).first();
  return r ? { link: r.link, kind: r.kind } : undefined;
}

export async function saveDeltaLink(db: Db, name: string, d: DeltaLink, now: number): Promise<void> {
  const row = { link: d.link, kind: d.kind, updated_at: now };
  await db('graph_delta')
    .insert({ name, ...row })
    .onConflict('name')
    .merge(row);
}

/** Graph no longer knows the stored state (410 Gone): the next pass starts the delta afresh. */
export async function clearDeltaLink(db: Db, name: string): Promise<void> {
  await db('graph_delta').where({ name }).delete();
}
