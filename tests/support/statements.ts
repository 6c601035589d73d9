/**
 * What an INSERT statement a test overheard writes, whichever form it took: one INSERT with VALUES, or, on
 * PostgreSQL, a unit of work's flush, where each table's rows go as a JSON array and several tables share one
 * statement (src/db/later-rows.ts).
 */

const JSON_ROWS = /json_populate_recordset\(null::"(\w+)", (?:\?|\$\d+)::json\)/g;

/** The tables `sql` inserts into, in the order it names them. */
export function tablesInserted(sql: string): string[] {
  return Array.from(sql.matchAll(/(?:^|[(\s])insert into ["`](\w+)["`]/gi), (m) => m[1]);
}

/** The values `sql` inserts into `table`, flat, each row's in its column order; undefined when it writes none there. */
export function valuesInserted(table: string, sql: string, bindings: readonly unknown[]): unknown[] | undefined {
  if (!tablesInserted(sql).includes(table)) return undefined;
  const json = Array.from(sql.matchAll(JSON_ROWS), (m) => m[1]);
  if (!json.length) return [...bindings];
  // A flush through JSON binds one array per table, in the order the tables are named.
  const rows = JSON.parse(String(bindings[json.indexOf(table)])) as Array<Record<string, unknown>>;
  return rows.flatMap((r) => Object.values(r));
}
