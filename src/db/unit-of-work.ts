import type { Knex } from 'knex';
import { storageOf, type StatementPlan, type Storage } from './storage.ts';
import {
  anyWaitingMatters,
  insertsOf,
  waitingTable,
  type WaitingTable,
  type LaterRow,
  type NarrowedTest,
  type RowTest,
  type WaitingThatMatters,
} from './later-rows.ts';
import { settled, sqliteValue, throughRaw, type Want } from './raw.ts';
import { insertSql } from './sql-text.ts';
import type { MemoKey } from './memo-key.ts';

export { memoKey, type MemoKey } from './memo-key.ts';

/**
 * A unit of work: one database transaction, and what belongs to it, as an object passed through the signatures.
 *
 * - `trx`: the knex transaction, for query-builder code.
 * - rows/row/run/insertId: the statements every mail runs (src/db/sql.ts), on SQLite straight on the transaction's
 *   better-sqlite3 connection (synchronous: no tick of the event loop between a mail's statements), on PostgreSQL
 *   through `trx.raw`.
 * - afterCommit(fn): work that must happen only once the outermost transaction has committed (the dispatcher's kick
 *   for mail just enqueued); nothing runs if it rolls back.
 * - memo: state remembered for this unit (what it wrote, what it already asked), under typed keys (MemoKey).
 * - insertLater/flush: rows that wait for the end of the unit, once its opener asked for it (gather()), and are then
 *   written with one INSERT per table: a batch of mails costs a round trip per table, not per row.
 * - savepoint(fn) / scope(fn): a child unit (one mail of a group commit). What the child remembers and registers
 *   after commit joins its parent when it succeeds and is dropped when it fails, as its writes are.
 *
 * Opened by inUnitOfWork(db, fn): the ingest's batch, each job, the outbox claim, the web's changes.
 */
export class UnitOfWork {
  private readonly memos = new Map<MemoKey<any>, unknown>();
  private readonly after = new Set<() => void>();

  private constructor(
    private readonly tx: TransactionState,
    private readonly parent?: UnitOfWork,
    private readonly sharesParentState = false, // scope(): see there
  ) {}

  /** The knex transaction, for the query builder. */
  get trx(): Knex.Transaction {
    return this.tx.trx;
  }

  /**
   * The rows of a SELECT, or of an INSERT/UPDATE … RETURNING. Rows still waiting (insertLater) in a table the
   * statement names are written first; `matters` narrows that, per table, to the rows the statement needs to see.
   */
  rows<T = any>(
    sql: string,
    bindings: readonly unknown[] = [],
    matters?: WaitingThatMatters,
    plan: StatementPlan = 'prepared',
  ): Promise<T[]> {
    return this.execute(sql, bindings, 'rows', matters, plan === 'prepared');
  }

  /** The first row, or undefined. */
  row<T = any>(sql: string, bindings: readonly unknown[] = [], matters?: WaitingThatMatters): Promise<T | undefined> {
    return this.execute(sql, bindings, 'row', matters);
  }

  /** A write without RETURNING; how many rows it changed. */
  run(sql: string, bindings: readonly unknown[] = []): Promise<number> {
    return this.execute(sql, bindings, 'changes');
  }

  /**
   * An INSERT of one row (`sql` without RETURNING): the new row's "id", or undefined when it inserted nothing (an
   * `on conflict … do nothing`). On SQLite the statement's lastInsertRowid (RETURNING there costs a temporary table
   * per statement); on PostgreSQL `returning "id"`.
   */
  insertId(sql: string, bindings: readonly unknown[] = []): Promise<number | undefined> {
    if (!this.tx.storage.sqlite) {
      return this.execute(`${sql} returning "id"`, bindings, 'row').then((r) =>
        r === undefined ? undefined : Number(r.id),
      );
    }
    if (this.mustFlushBefore(sql)) return this.flush().then(() => this.insertId(sql, bindings));
    return settled(() => {
      const done = this.onSqlite(sql, bindings, 'result') as { changes: number; lastInsertRowid: number | bigint };
      return done.changes > 0 ? Number(done.lastInsertRowid) : undefined;
    });
  }

  /**
   * From now on, rows given to insertLater wait until flush() (or the end of a savepoint, or of the unit): the
   * ingest's batch asks for it. Without it they are written at once.
   */
  gather(): void {
    this.tx.later ??= new Map();
  }

  /** An INSERT of `rows` of `keys` (`tail`: an `on conflict … do nothing`): now or, when gathering, at flush(). */
  async insertLater(table: string, keys: readonly string[], rows: ReadonlyArray<readonly unknown[]>, tail = '') {
    if (!rows.length) return;
    if (!this.tx.later) return void (await this.run(insertSql(table, keys, rows.length, tail), rows.flat()));
    const same = waitingTable(this.tx.later, table);
    for (const values of rows) same.add({ table, keys, values, tail });
  }

  /** As insertLater, for a table of one row whose latest value alone matters (a counter): it replaces the row waiting
   * there. */
  async replaceLater(table: string, keys: readonly string[], values: readonly unknown[], tail = '') {
    if (!this.tx.later) return void (await this.run(insertSql(table, keys, 1, tail), values));
    waitingTable(this.tx.later, table).replaceWith({ table, keys, values, tail });
  }

  /** The rows of `table` given to insertLater, not written yet, that pass `which` (all of them without), in order. */
  laterRows(table: string, which?: RowTest | NarrowedTest): readonly LaterRow[] {
    const waiting = this.tx.later?.get(table);
    return !waiting ? [] : which ? waiting.matching(which) : waiting.rows;
  }

  /** Writes the rows gathered so far, one multi-row INSERT per table. */
  async flush(): Promise<void> {
    const later = this.tx.later;
    if (!later?.size) return;
    const rows = [...later.values()].flatMap((t) => t.rows);
    later.clear();
    // Unnamed on PostgreSQL when their text varies with the count of rows: a named statement lives as long as the
    // connection.
    for (const { sql, bindings, named } of insertsOf(rows, Boolean(this.tx.storage.sqlite)))
      await this.execute(sql, bindings, 'changes', undefined, named);
  }

  /** Runs `fn` once the outermost transaction has committed; never if it (or this child's savepoint) rolls back. The
   * same function registered twice runs once. */
  afterCommit(fn: () => void): void {
    this.after.add(fn);
  }

  /** This unit's value under `key`, made by key.init (or, in a child, from the parent's by key.inherit). */
  memo<T>(key: MemoKey<T>): T {
    if (this.memos.has(key)) return this.memos.get(key) as T;
    let value: T;
    if (!key.inherit || !this.parent) value = key.init();
    else value = this.sharesParentState ? this.parent.memo(key) : key.inherit(this.parent.memo(key));
    this.memos.set(key, value);
    return value;
  }

  /** This unit's value under `key`, if it has one (not made, not inherited). */
  peekMemo<T>(key: MemoKey<T>): T | undefined {
    return this.memos.get(key) as T | undefined;
  }

  setMemo<T>(key: MemoKey<T>, value: T | undefined): void {
    if (value === undefined) this.memos.delete(key);
    else this.memos.set(key, value);
  }

  /**
   * Runs `fn` in a savepoint: if it throws, only what it wrote is rolled back (and what its child unit remembered
   * and registered after commit is dropped), and the error goes on. One savepoint name serves every level: ROLLBACK
   * TO and RELEASE act on the innermost savepoint of that name, on SQLite and PostgreSQL alike.
   */
  async savepoint<T>(fn: (child: UnitOfWork) => Promise<T>): Promise<T> {
    // What waits to be written is this unit's, not the savepoint's: written before it, it is not undone with it.
    await this.flush();
    await this.run('SAVEPOINT mesa_sp');
    const child = new UnitOfWork(this.tx, this);
    let value: T;
    try {
      value = await fn(child);
      // Inside the savepoint: a row refused (a unique key) fails this child alone, as if written at once.
      await child.flush();
    } catch (err) {
      this.tx.later?.clear();
      // If the rollback itself fails (the connection is gone), that error is the one reported: the transaction is lost.
      await this.run('ROLLBACK TO SAVEPOINT mesa_sp');
      await this.run('RELEASE SAVEPOINT mesa_sp');
      throw err;
    }
    await this.run('RELEASE SAVEPOINT mesa_sp');
    this.adopt(child);
    return value;
  }

  /**
   * Runs `fn` as a child unit without a savepoint: for work whose failure rolls the whole transaction back (a mail
   * of a group commit on its first run, src/inbound/ingest-batch.ts). Its memo starts afresh, but the state about the
   * whole transaction (inherited keys) is the parent's own, not a copy: a failure leaves nothing to undo.
   */
  async scope<T>(fn: (child: UnitOfWork) => Promise<T>): Promise<T> {
    const child = new UnitOfWork(this.tx, this, true);
    const value = await fn(child);
    this.adopt(child);
    return value;
  }

  /** A child that succeeded: its inherited memos replace the parent's, its after-commit work joins the parent's. */
  private adopt(child: UnitOfWork): void {
    for (const [key, value] of child.memos) if (key.inherit) this.memos.set(key, value);
    for (const fn of child.after) this.after.add(fn);
  }

  private execute(
    sql: string,
    bindings: readonly unknown[],
    want: Want,
    matters?: WaitingThatMatters,
    named = true,
  ): Promise<any> {
    if (this.mustFlushBefore(sql, matters))
      return this.flush().then(() => this.execute(sql, bindings, want, matters, named));
    if (this.tx.storage.sqlite) return settled(() => this.onSqlite(sql, bindings, want));
    const storage = this.tx.storage;
    return throughRaw(this.tx.trx, sql, bindings, want, named ? storage.preparedName(sql) : undefined).catch(
      (err: unknown) => {
        storage.failed(err);
        throw err;
      },
    );
  }

  /**
   * Whether rows still waiting (insertLater) must be written before `sql` runs: it names their table (a read that
   * must see them, or a write that must come after them), unless `matters` says none of them concerns it. Every
   * statement of this module names its tables in double quotes.
   */
  private mustFlushBefore(sql: string, matters?: WaitingThatMatters): boolean {
    const later = this.tx.later;
    return Boolean(later?.size) && anyWaitingMatters(later!, this.tx.storage.identifiersOf(sql), matters);
  }

  /** One statement on the transaction's SQLite connection, synchronously. Throws as the driver does. */
  private onSqlite(sql: string, bindings: readonly unknown[], want: Want | 'result'): any {
    if (!this.tx.open) throw new Error(`la unidad de trabajo ya terminó: ${sql.slice(0, 80)}`);
    const values = bindings.map(sqliteValue);
    const stmt = this.tx.storage.statement(sql);
    const started = this.tx.storage.listened ? performance.now() : 0;
    let rows: any[] = [];
    let result: { changes: number; lastInsertRowid: number | bigint } | undefined;
    if (stmt.reader) rows = stmt.all(...values) as any[];
    else result = stmt.run(...values);
    if (started) this.tx.storage.emit(sql, values, performance.now() - started);
    if (want === 'result') return result;
    return want === 'rows' ? rows : want === 'row' ? rows[0] : (result?.changes ?? rows.length);
  }

  /** @internal inUnitOfWork's: a root unit over `trx`. */
  static open(trx: Knex.Transaction, storage: Storage): { unit: UnitOfWork; close(): Array<() => void> } {
    const tx: TransactionState = { trx, storage, open: true };
    const unit = new UnitOfWork(tx);
    return {
      unit,
      close: () => {
        tx.open = false;
        return [...unit.after];
      },
    };
  }
}

/**
 * Runs `fn` in a unit of work on `db` (a knex transaction under the hood: committed when `fn` resolves, rolled back
 * when it throws), then what it registered with afterCommit, once the commit has resolved.
 */
export async function inUnitOfWork<T>(db: Knex, fn: (uow: UnitOfWork) => Promise<T>): Promise<T> {
  const storage = storageOf(db);
  let after: Array<() => void> = [];
  const value = await db.transaction(async (trx) => {
    const { unit, close } = UnitOfWork.open(trx, storage);
    try {
      const out = await fn(unit);
      await unit.flush();
      after = close();
      return out;
    } catch (err) {
      close();
      throw err;
    }
  });
  for (const f of after) {
    try {
      f();
    } catch (err) {
      // The transaction is committed: a failing follow-up must not turn it into a failure for the caller.
      process.emitWarning(err as Error);
    }
  }
  return value;
}

interface TransactionState {
  readonly trx: Knex.Transaction;
  readonly storage: Storage;
  open: boolean;
  /** Rows insertLater keeps until flush(), once gather() was asked; undefined: written at once. */
  later?: Map<string, WaitingTable>;
}
