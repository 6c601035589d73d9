import type { Knex } from 'knex';

/**
 * What Mesa keeps about its database beside knex: on SQLite, the one better-sqlite3 connection of the pool (knex's
 * documented `pool.afterCreate` hands it over, and the pool holds at most one, so inside a transaction it is the
 * transaction's connection) with a bounded cache of the statements prepared on it; and the listeners of the
 * statements that units of work run on it themselves (src/db/unit-of-work.ts), which knex never sees.
 *
 * One per openDatabase(), reachable from that knex instance and its transactions through knex's public
 * `userParams` (storageOf).
 */
export interface SqliteStatement {
  reader: boolean;
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): { changes: number; lastInsertRowid: number | bigint };
}
export interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
}

/** A statement that ran: its SQL, its values and (for those a unit of work ran itself) how long it took. */
export type StatementListener = (statement: { sql: string; bindings: readonly unknown[]; ms?: number }) => void;

/** Statements kept prepared per connection: SQL built for a varying number of rows must not grow it without end. */
const PREPARED_MAX = 500;
/**
 * Statement texts named on PostgreSQL. A named statement stays prepared in each server connection until it closes
 * (node-postgres has no way to forget one), so the first texts get a name and later ones run unnamed.
 */
const NAMED_MAX = 200;

/**
 * How PostgreSQL plans a statement. 'prepared': once per connection (a named statement; after five runs, one plan
 * for any values). 'per-values': each time, with its values (unnamed), for a read whose best plan depends on them:
 * one that filters by a consultant's address, which stands on most rows of its table, is best served by another
 * index than one for a customer's, and a plan made for any values cannot know which it has.
 */
export type StatementPlan = 'prepared' | 'per-values';

export class Storage {
  private connection?: SqliteConnection;
  private prepared = new Map<string, SqliteStatement>();
  private readonly listeners = new Set<StatementListener>();
  private names = new Map<string, string>();
  private identifiers = new Map<string, ReadonlySet<string>>();
  private generation = 1;

  /** pool.afterCreate: the pool's (new) connection; what was prepared on an earlier one is dropped. */
  connected(connection: SqliteConnection): void {
    this.connection = connection;
    this.prepared = new Map();
  }

  /** The SQLite connection, or undefined on PostgreSQL (and before the pool opened it). */
  get sqlite(): SqliteConnection | undefined {
    return this.connection;
  }

  /** `sql` prepared on the SQLite connection, from the cache when it was prepared before. */
  statement(sql: string): SqliteStatement {
    let stmt = this.prepared.get(sql);
    if (!stmt) {
      stmt = this.connection!.prepare(sql);
      if (this.prepared.size >= PREPARED_MAX) this.prepared.delete(this.prepared.keys().next().value!);
      this.prepared.set(sql, stmt);
    }
    return stmt;
  }

  /** The identifiers `sql` names in double quotes (tables, aliases, columns), read once per text. */
  identifiersOf(sql: string): ReadonlySet<string> {
    let found = this.identifiers.get(sql);
    if (!found) {
      found = new Set(Array.from(sql.matchAll(/"([^"]+)"/g), (m) => m[1]));
      if (this.identifiers.size >= PREPARED_MAX) this.identifiers.delete(this.identifiers.keys().next().value!);
      this.identifiers.set(sql, found);
    }
    return found;
  }

  /**
   * PostgreSQL: the name `sql` runs under as a prepared statement (parsed and planned once per connection), or
   * undefined once NAMED_MAX texts have one.
   */
  preparedName(sql: string): string | undefined {
    let name = this.names.get(sql);
    if (name === undefined && this.names.size < NAMED_MAX)
      this.names.set(sql, (name = `mesa_${this.generation}_${this.names.size + 1}`));
    return name;
  }

  /**
   * A statement failed. When the server refused a prepared plan because a table changed under it (another instance
   * migrated: `select *` now has other columns), the names start again under a new generation, so the next attempt
   * prepares afresh instead of failing on every connection that kept the old plan.
   */
  failed(err: unknown): void {
    if (isStalePlan(err)) {
      this.generation++;
      this.names = new Map();
    }
  }

  /** Listens to the statements units of work run on the SQLite connection; returns the way to stop. */
  onStatement(listener: StatementListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  get listened(): boolean {
    return this.listeners.size > 0;
  }

  emit(sql: string, bindings: readonly unknown[], ms: number): void {
    for (const l of this.listeners) l({ sql, bindings, ms });
  }
}

/** The Storage of a knex instance (or transaction) made by openDatabase. */
export function storageOf(db: Knex | Knex.Transaction): Storage {
  const storage = (db.userParams as { storage?: Storage } | undefined)?.storage;
  if (!storage) throw new Error('esta instancia de knex no la abrió openDatabase (src/db/knex.ts)');
  return storage;
}

/**
 * Every statement that runs on `db`: knex's own (its public `query` event) and those units of work run on the
 * SQLite connection directly. For tests and tests/bench/sqlprof.ts; returns the way to stop listening.
 */
export function onStatements(db: Knex, listener: StatementListener): () => void {
  const onQuery = (q: { sql: string; bindings?: readonly unknown[] }) =>
    listener({ sql: q.sql, bindings: q.bindings ?? [] });
  db.on('query', onQuery);
  const stop = storageOf(db).onStatement(listener);
  return () => {
    db.off('query', onQuery);
    stop();
  };
}

/** PostgreSQL refused a statement prepared before a table changed under it (0A000, "cached plan must not change
 * result type"): worth trying again once the names start afresh (Storage.failed). */
export function isStalePlan(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  return e?.code === '0A000' && /cached plan/i.test(String(e?.message));
}
