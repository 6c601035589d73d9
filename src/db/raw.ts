import type { Knex } from 'knex';

/** What a statement's caller wants back: its rows, its first row, or how many rows it changed. */
export type Want = 'rows' | 'row' | 'changes';

/**
 * One statement through knex's public raw (its pool or transaction; PostgreSQL, or SQLite outside a unit of work).
 * With `name` (PostgreSQL), the statement is sent as a named prepared statement through knex's public `options()`,
 * which hands the name to node-postgres: the server parses and plans it once per connection instead of once per
 * execution.
 */
export async function throughRaw(
  db: Knex | Knex.Transaction,
  sql: string,
  bindings: readonly unknown[],
  want: Want,
  name?: string,
): Promise<any> {
  const raw = db.raw(
    sql,
    bindings.map((b) => (b === undefined ? null : typeof b === 'string' ? wellFormed(b) : b)) as any[],
  );
  const result: any = await (name ? raw.options({ name }) : raw);
  // PostgreSQL answers { rows, rowCount }; better-sqlite3 through knex answers the rows, or nothing for a write.
  const rows: any[] = Array.isArray(result) ? result : (result?.rows ?? []);
  if (want === 'rows') return rows;
  if (want === 'row') return rows[0];
  return Array.isArray(result) ? result.length : Number(result?.rowCount ?? result?.changes ?? 0);
}

/**
 * What SQLite can bind: booleans as 0/1, dates as epoch ms, undefined as NULL (as knex's better-sqlite3 client), and
 * text well formed (wellFormed, as throughRaw binds it too).
 */
export function sqliteValue(v: unknown): unknown {
  if (typeof v === 'string') return wellFormed(v);
  if (v === undefined) return null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v instanceof Date) return v.valueOf();
  return v;
}

/**
 * `s` with each UTF-16 surrogate that has no pair (half an emoji left by cutting a text at a length) as U+FFFD, as
 * node-postgres writes it in UTF-8: better-sqlite3 would store its three bytes as they are, not UTF-8, and JSON
 * would carry it as an escape PostgreSQL refuses. A string of Latin-1 characters alone is returned at once.
 */
export function wellFormed(s: string): string {
  return s.toWellFormed();
}

/** What `fn` returns as a settled promise, or what it throws as a rejected one: a statement that ran synchronously. */
export function settled<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err);
  }
}
