import type { Db } from './knex.ts';
import { boundedMemo } from '../memo.ts';
import { throughRaw, UnitOfWork } from './unit-of-work.ts';

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

/** The knex of `q`, for the query builder: a unit of work's transaction, or `q` itself. */
export function knexOf(q: Queryable): Db {
  return q instanceof UnitOfWork ? q.trx : q;
}

/** The rows of a SELECT, or of an INSERT/UPDATE … RETURNING. */
export function rows<T = any>(q: Queryable, sql: string, bindings: readonly unknown[] = []): Promise<T[]> {
  return q instanceof UnitOfWork ? q.rows<T>(sql, bindings) : throughRaw(q, sql, bindings, 'rows');
}

/** The first row, or undefined. */
export function row<T = any>(q: Queryable, sql: string, bindings: readonly unknown[] = []): Promise<T | undefined> {
  return q instanceof UnitOfWork ? q.row<T>(sql, bindings) : throughRaw(q, sql, bindings, 'row');
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

/** `("a", "b", "c")`: the quoted column list of an INSERT or SELECT. */
const columns = (names: readonly string[]): string => `(${names.map((n) => `"${n}"`).join(', ')})`;

/** `(?, ?, ?), (?, ?, ?)`: the placeholders of `count` rows of `width` values (one row: an `in (…)` list). */
export const placeholders = boundedMemo(
  200,
  (count: number, width: number) => `${count}x${width}`,
  (count: number, width: number): string => {
    const row = `(${'?, '.repeat(width - 1)}?)`;
    return `${row}, `.repeat(count - 1) + row;
  },
);

/**
 * An INSERT of `count` rows of the columns `keys`, bound in that order (valuesOf turns objects into that). The SQL
 * string depends only on the table, the keys and the row count, so the prepared-statement cache keeps it; built
 * once per shape (a mail with three ids to thread asks for the same text as the one before it).
 */
export function insertSql(table: string, keys: readonly string[], count = 1, tail = ''): string {
  return insertSqlOf(table, keys, count, tail);
}
const insertSqlOf = boundedMemo(
  500,
  (table: string, keys: readonly string[], count: number, tail: string) =>
    `${table}\0${keys.join(',')}\0${count}\0${tail}`,
  (table: string, keys: readonly string[], count: number, tail: string): string =>
    `insert into "${table}" ${columns(keys)} values ${placeholders(count, keys.length)}${tail ? ` ${tail}` : ''}`,
);

/** The values of `rows` in the order of `keys`, flat: the bindings of insertSql. */
export const valuesOf = (keys: readonly string[], rows: ReadonlyArray<Record<string, unknown>>): unknown[] =>
  rows.flatMap((r) => keys.map((k) => r[k]));
