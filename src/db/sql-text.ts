import { boundedMemo } from '../memo.ts';

/**
 * The text of the statements built for a number of rows (src/db/sql.ts re-exports it): the placeholders, the
 * multi-row INSERT and the INSERT of a JSON array of rows, each remembered per shape. Apart from sql.ts so that the
 * unit of work, which writes the rows it gathered (src/db/later-rows.ts), can build them without importing what
 * imports it.
 */

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

/**
 * An INSERT of the rows of a JSON array of objects bound as its one value (PostgreSQL), each column converted by the
 * table's own type (json_populate_recordset), in the order of the array (ids keep that order). One text for any
 * count of rows.
 */
export const jsonInsertSql = boundedMemo(
  200,
  (table: string, keys: readonly string[], tail: string) => `${table}\0${keys.join(',')}\0${tail}`,
  (table: string, keys: readonly string[], tail: string): string => {
    const list = columns(keys);
    const from = `json_populate_recordset(null::"${table}", ?::json) with ordinality as "r" order by "r"."ordinality"`;
    return `insert into "${table}" ${list} select ${list.slice(1, -1)} from ${from}${tail ? ` ${tail}` : ''}`;
  },
);

/** The values of `rows` in the order of `keys`, flat: the bindings of insertSql. */
export const valuesOf = (keys: readonly string[], rows: ReadonlyArray<Record<string, unknown>>): unknown[] =>
  rows.flatMap((r) => keys.map((k) => r[k]));

/**
 * `values` padded with its last value up to the next power of two: a statement read ahead for a varying number of
 * mails then has a few texts (and a few prepared statements) for every count. Changes and returns `values`.
 */
export function padded<T>(values: T[]): T[] {
  if (values.length === 0) return values;
  let size = 1;
  while (size < values.length) size *= 2;
  while (values.length < size) values.push(values[values.length - 1]);
  return values;
}
