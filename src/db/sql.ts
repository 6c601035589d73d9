import type { Db, Knex } from './knex.ts';
import { boundedMemo } from '../memo.ts';

/**
 * Plain SQL for the statements every mail runs (the ingest path, the outbox), on both databases: identifiers in
 * double quotes and `?` placeholders, which SQLite and PostgreSQL (through knex's raw) both read.
 *
 * Why not the query builder there: building, compiling and running one knex query costs more JavaScript than SQLite
 * spends executing it. In `npm run bench` knex's own code was 17 % of the main thread while ingesting, and a mail
 * runs about 16 statements (docs/performance.md). Inside a transaction on SQLite these statements go straight to
 * the transaction's better-sqlite3 connection (its prepared-statement cache, src/db/knex.ts); everywhere else, and
 * always on PostgreSQL, through `knex.raw`, i.e. knex's pool, transactions and error handling as before.
 *
 * knex's `query` and `query-response` events are emitted for them as for any query (tests and tests/bench/sqlprof.ts
 * listen), only when someone listens.
 */

interface SqliteStatement {
  reader: boolean;
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): { changes: number; lastInsertRowid: number | bigint };
}
interface SqliteConnection { prepare(sql: string): SqliteStatement }
interface TransactionClient {
  acquireConnection(): Promise<SqliteConnection>;
  listenerCount(event: string): number;
  emit(event: string, ...args: unknown[]): boolean;
  config: { client: string };
}
type Transaction = { isTransaction?: boolean; isCompleted?: () => boolean; client: TransactionClient };

/**
 * The SQLite connection of each open transaction, with the knex transaction it belongs to: a savepoint has its own
 * transaction object (a Proxy, see savepoint()) on the same connection, and its statements then read nothing through
 * the Proxy.
 */
const connections = new WeakMap<object, { conn: SqliteConnection; trx: Transaction }>();
/** The statements prepared on each connection, by SQL: this module's own cache (knex's statements have theirs, in
 * src/db/knex.ts), a plain map lookup per statement. Bounded like knex's: SQL built for a varying number of rows. */
const prepared = new WeakMap<SqliteConnection, Map<string, SqliteStatement>>();
const PREPARED_MAX = 500;
let uid = 0;

/** Whether statements on `db` go straight to a better-sqlite3 connection: inside a transaction, on SQLite. */
const onSqliteTransaction = (db: Db): boolean => {
  const trx = db as unknown as Transaction;
  return Boolean(trx.isTransaction) && trx.client.config.client === 'better-sqlite3';
};

async function acquire(db: Db): Promise<{ conn: SqliteConnection; trx: Transaction }> {
  const trx = db as unknown as Transaction;
  let link = connections.get(trx);
  if (!link) {
    link = { conn: await trx.client.acquireConnection(), trx };
    connections.set(trx, link);
  }
  return link;
}

/** What SQLite can bind: booleans as 0/1, dates as epoch ms, undefined as NULL (as knex's better-sqlite3 client). */
function sqliteValue(v: unknown): unknown {
  if (v === undefined) return null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v instanceof Date) return v.valueOf();
  return v;
}

function statementOf(conn: SqliteConnection, sql: string): SqliteStatement {
  let cache = prepared.get(conn);
  if (!cache) prepared.set(conn, (cache = new Map()));
  let stmt = cache.get(sql);
  if (!stmt) {
    stmt = conn.prepare(sql);
    if (cache.size >= PREPARED_MAX) cache.delete(cache.keys().next().value!);
    cache.set(sql, stmt);
  }
  return stmt;
}

type Want = 'rows' | 'row' | 'changes' | 'result';

/**
 * One statement on the transaction's own connection, synchronously (better-sqlite3 is synchronous): no promise, no
 * tick of the event loop between a mail's statements. Throws as the driver does.
 */
function onConnection(trx: Transaction, conn: SqliteConnection, sql: string, bindings: readonly unknown[], want: Want): any {
  if (trx.isCompleted?.()) throw new Error(`Transaction query already complete: ${sql.slice(0, 80)}`);
  const values = bindings.map(sqliteValue);
  const listened = trx.client.listenerCount('query') > 0 || trx.client.listenerCount('query-response') > 0;
  const event = listened ? { sql, bindings: values, method: 'raw', __knexQueryUid: `mesa-sql-${++uid}` } : undefined;
  if (event) trx.client.emit('query', event);
  const stmt = statementOf(conn, sql);
  let rows: any[] = [];
  let result: { changes: number; lastInsertRowid: number | bigint } | undefined;
  if (stmt.reader) rows = stmt.all(...values) as any[];
  else result = stmt.run(...values);
  if (event) trx.client.emit('query-response', rows, event);
  if (want === 'result') return result;
  return want === 'rows' ? rows : want === 'row' ? rows[0] : result?.changes ?? rows.length;
}

/** Through knex (its pool, its transactions, PostgreSQL). */
async function throughKnex(db: Db, sql: string, bindings: readonly unknown[], want: Want): Promise<any> {
  const result: any = await db.raw(sql, bindings.map((b) => (b === undefined ? null : b)) as any[]);
  // PostgreSQL answers { rows, rowCount }; better-sqlite3 through knex answers the rows, or nothing for a write.
  const rows: any[] = Array.isArray(result) ? result : result?.rows ?? [];
  if (want === 'rows') return rows;
  if (want === 'row') return rows[0];
  return Array.isArray(result) ? result.length : Number(result?.rowCount ?? result?.changes ?? 0);
}

/** One promise per statement: settled already when the statement ran on a known SQLite connection. */
function execute(db: Db, sql: string, bindings: readonly unknown[], want: Want): Promise<any> {
  const link = connections.get(db);
  if (!link) {
    if (!onSqliteTransaction(db)) return throughKnex(db, sql, bindings, want);
    return acquire(db).then((l) => onConnection(l.trx, l.conn, sql, bindings, want));
  }
  return settled(() => onConnection(link.trx, link.conn, sql, bindings, want));
}

/** What `fn` returns as a settled promise, or what it throws as a rejected one: a statement that ran synchronously. */
function settled<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err);
  }
}

/** The rows of a SELECT, or of an INSERT/UPDATE … RETURNING. */
export function rows<T = any>(db: Db, sql: string, bindings: readonly unknown[] = []): Promise<T[]> {
  return execute(db, sql, bindings, 'rows');
}

/** The first row, or undefined. */
export function row<T = any>(db: Db, sql: string, bindings: readonly unknown[] = []): Promise<T | undefined> {
  return execute(db, sql, bindings, 'row');
}

/** A write without RETURNING; how many rows it changed. */
export function run(db: Db, sql: string, bindings: readonly unknown[] = []): Promise<number> {
  return execute(db, sql, bindings, 'changes');
}

/**
 * An INSERT of one row (`sql` without RETURNING): the new row's "id", or undefined when it inserted nothing (an
 * `on conflict … do nothing`). On a SQLite transaction's connection that is the statement's lastInsertRowid: SQLite
 * implements RETURNING with a temporary table per statement, ~2 µs of each insert in the SQL replay
 * (tests/bench/sqlreplay.ts) and more in the ingest; everywhere else, `returning "id"`.
 */
export function insertId(db: Db, sql: string, bindings: readonly unknown[] = []): Promise<number | undefined> {
  const link = connections.get(db);
  if (!link) return execute(db, `${sql} returning "id"`, bindings, 'row').then((r) => (r === undefined ? undefined : Number(r.id)));
  return settled(() => {
    const done = onConnection(link.trx, link.conn, sql, bindings, 'result') as { changes: number; lastInsertRowid: number | bigint };
    return done.changes > 0 ? Number(done.lastInsertRowid) : undefined;
  });
}

/** `("a", "b", "c")`: the quoted column list of an INSERT or SELECT. */
const columns = (names: readonly string[]): string => `(${names.map((n) => `"${n}"`).join(', ')})`;

/** `(?, ?, ?), (?, ?, ?)`: the placeholders of `count` rows of `width` values (one row: an `in (…)` list). */
export const placeholders = boundedMemo(200, (count: number, width: number) => `${count}x${width}`, (count: number, width: number): string => {
  const row = `(${'?, '.repeat(width - 1)}?)`;
  return `${row}, `.repeat(count - 1) + row;
});

/**
 * An INSERT of `count` rows of the columns `keys`, bound in that order (valuesOf turns objects into that). The SQL
 * string depends only on the table, the keys and the row count, so the prepared-statement cache keeps it; built
 * once per shape (a mail with three ids to thread asks for the same text as the one before it).
 */
export function insertSql(table: string, keys: readonly string[], count = 1, tail = ''): string {
  return insertSqlOf(table, keys, count, tail);
}
const insertSqlOf = boundedMemo(500, (table: string, keys: readonly string[], count: number, tail: string) => `${table}\0${keys.join(',')}\0${count}\0${tail}`,
  (table: string, keys: readonly string[], count: number, tail: string): string =>
    `insert into "${table}" ${columns(keys)} values ${placeholders(count, keys.length)}${tail ? ` ${tail}` : ''}`);

/** The values of `rows` in the order of `keys`, flat: the bindings of insertSql. */
export const valuesOf = (keys: readonly string[], rows: ReadonlyArray<Record<string, unknown>>): unknown[] =>
  rows.flatMap((r) => keys.map((k) => r[k]));

/**
 * Runs `fn` in a savepoint of `trx`: if it throws, only what it wrote is rolled back, and the error goes on. What
 * knex's nested `trx.transaction()` does, without building a new transaction object, its promises and its
 * uncached SAVEPOINT statements for every mail of a group commit (≈ 5 % of the main thread while ingesting,
 * `npm run bench`).
 *
 * `fn` is handed a view of `trx`, not `trx` itself: a separate object, as knex's savepoint was, so that whatever is
 * remembered per transaction object (Outbox's mail enqueued for a case opened in it) is per mail and dies with a
 * rolled-back mail; its `parentTransaction` is `trx`, so `outermost()` still finds what commits. Everything else
 * (queries, `raw`, `client`, `isCompleted`) is `trx`'s own. One name serves every level: ROLLBACK TO and RELEASE
 * act on the innermost savepoint of that name, on SQLite and PostgreSQL alike.
 */
export async function savepoint<T>(trx: Knex.Transaction, fn: (sp: Knex.Transaction) => Promise<T>): Promise<T> {
  await run(trx, 'SAVEPOINT mesa_sp');
  const sp = transactionView(trx);
  let value: T;
  try {
    value = await fn(sp);
  } catch (err) {
    // If the rollback itself fails (the connection is gone), that error is the one to report: the transaction is lost.
    await run(trx, 'ROLLBACK TO SAVEPOINT mesa_sp');
    await run(trx, 'RELEASE SAVEPOINT mesa_sp');
    throw err;
  }
  await run(trx, 'RELEASE SAVEPOINT mesa_sp');
  return value;
}

/**
 * A view of `trx` as savepoint() hands it to its function, without a savepoint: its own object (what is remembered
 * per transaction object is per view), `parentTransaction` is `trx`, everything else is `trx`'s own. For work that
 * will not be rolled back alone (IngestService runs a batch's mails this way first, src/inbound/ingest.ts).
 */
export function transactionView(trx: Knex.Transaction): Knex.Transaction {
  const view = new Proxy(trx, { get: (target, key) => (key === 'parentTransaction' ? target : Reflect.get(target, key)) });
  const link = connections.get(trx);
  if (link) connections.set(view, link);
  return view;
}
