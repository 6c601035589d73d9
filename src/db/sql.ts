import type { Db } from './knex.ts';
import type { StatementPlan } from './storage.ts';
import { UnitOfWork } from './unit-of-work.ts';
import { throughRaw } from './raw.ts';
import type { NarrowedTest, RowTest, WaitingThatMatters } from './later-rows.ts';
import { insertSql } from './sql-text.ts';

/**
 * Plain SQL for the statements every mail runs (the ingest path, the outbox), on both databases: identifiers in
 * double quotes and `?` placeholders, which SQLite and PostgreSQL (through knex's raw) both read.
 *
 * Why not the query builder there: building, compiling and running one knex query costs more JavaScript than SQLite
 * spends executing it, and a mail runs a few dozen statements (docs/performance.md). In a unit of work
 * (src/db/unit-of-work.ts) these statements run on its own transaction; given the pool or a bare knex transaction,
 * through knex's public `raw`.
 */

/** Where a statement can run: a unit of work, or knex (its pool, or a transaction opened without a unit of work). */
export type Queryable = Db | UnitOfWork;

/**
 * The knex of `q`, for the query builder: a unit of work's transaction, or `q` itself. The builder's statements do not
 * pass through the unit, so they never see rows still waiting (insertLater): a table that waits is read in plain SQL.
 */
export function knexOf(q: Queryable): Db {
  return q instanceof UnitOfWork ? q.trx : q;
}

/** The rows of a SELECT, or of an INSERT/UPDATE … RETURNING. */
export function rows<T = any>(
  q: Queryable,
  sql: string,
  bindings: readonly unknown[] = [],
  matters?: WaitingThatMatters,
  plan?: StatementPlan,
): Promise<T[]> {
  return q instanceof UnitOfWork ? q.rows<T>(sql, bindings, matters, plan) : throughRaw(q, sql, bindings, 'rows');
}

/** The first row, or undefined. */
export function row<T = any>(
  q: Queryable,
  sql: string,
  bindings: readonly unknown[] = [],
  matters?: WaitingThatMatters,
): Promise<T | undefined> {
  return q instanceof UnitOfWork ? q.row<T>(sql, bindings, matters) : throughRaw(q, sql, bindings, 'row');
}

/** A write without RETURNING; how many rows it changed. */
export function run(q: Queryable, sql: string, bindings: readonly unknown[] = []): Promise<number> {
  return q instanceof UnitOfWork ? q.run(sql, bindings) : throughRaw(q, sql, bindings, 'changes');
}

/** An INSERT of one row (`sql` without RETURNING): the new row's "id", or undefined when it inserted nothing. */
export function insertId(q: Queryable, sql: string, bindings: readonly unknown[] = []): Promise<number | undefined> {
  if (q instanceof UnitOfWork) return q.insertId(sql, bindings);
  return throughRaw(q, `${sql} returning "id"`, bindings, 'row').then((r) =>
    r === undefined ? undefined : Number(r.id),
  );
}

/**
 * An INSERT of `rows` that may wait for the unit of work's flush, with the other rows of its table (gather(),
 * src/db/later-rows.ts); given knex, or a unit not gathering, at once, in one statement.
 */
export async function insertLater(
  q: Queryable,
  table: string,
  keys: readonly string[],
  rows: ReadonlyArray<readonly unknown[]>,
  tail = '',
): Promise<void> {
  if (q instanceof UnitOfWork) return q.insertLater(table, keys, rows, tail);
  if (rows.length) await run(q, insertSql(table, keys, rows.length, tail), rows.flat());
}

/**
 * The rows of `table` a unit of work still has waiting (insertLater) that pass `which`, in the order they were given,
 * each as its value by column: for a reader that adds them to what it read instead of having them written first.
 * Tested before they are decoded: a batch's reader asks for its few among all the batch has waiting.
 */
export function waitingRows(
  q: Queryable,
  table: string,
  which?: RowTest | NarrowedTest,
): Array<Record<string, unknown>> {
  if (!(q instanceof UnitOfWork)) return [];
  return q.laterRows(table, which).map((r) => Object.fromEntries(r.keys.map((k, i) => [k, r.values[i]])));
}

export { insertSql, padded, placeholders, valuesOf } from './sql-text.ts';
export { rowsWhere } from './later-rows.ts';
export type { Narrow, NarrowedTest, RowTest, WaitingThatMatters } from './later-rows.ts';
