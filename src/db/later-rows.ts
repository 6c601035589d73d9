import { wellFormed } from './raw.ts';
import { insertSql, jsonInsertSql } from './sql-text.ts';

/**
 * Rows a unit of work writes later (UnitOfWork.insertLater): rows that nothing in the same transaction reads back
 * before they are flushed, or whose readers flush them first (the ledger, thread ids, the event log). A batch of mails
 * then writes each table's rows with one multi-row INSERT instead of one statement, and one round trip to
 * PostgreSQL, per row.
 */
export interface LaterRow {
  readonly table: string;
  readonly keys: readonly string[];
  readonly values: readonly unknown[];
  /** What follows the VALUES: an `on conflict … do nothing`. */
  readonly tail: string;
}

/** A test of one waiting row, given the row's value by column. */
export type RowTest = (value: (column: string) => unknown) => boolean;

/**
 * Where a test's rows can only be: those whose `column` holds one of `values` (compared as text: 5 and '5' alike).
 * A hint, not the test: the rows it narrows to are tested still. With a hint, a reader of a batch's waiting rows
 * looks at its few (an index by column) instead of testing every row the batch left waiting.
 */
export interface Narrow {
  readonly column: string;
  readonly values: Iterable<unknown>;
}

/** A test with hints: a row can pass only if one of `narrow` (any of them) takes it. */
export interface NarrowedTest {
  readonly test: RowTest;
  readonly narrow: readonly Narrow[];
}

/**
 * The rows whose columns hold `equal`'s values (compared with ===), and that pass `also`: the test and its hint (the
 * first column) from one statement of the equalities.
 */
export function rowsWhere(equal: Readonly<Record<string, unknown>>, also?: RowTest): NarrowedTest {
  const pairs = Object.entries(equal);
  return {
    test: (v) => pairs.every(([column, value]) => v(column) === value) && (!also || also(v)),
    narrow: [{ column: pairs[0][0], values: [pairs[0][1]] }],
  };
}

/**
 * Which waiting rows a read needs to see, by table. A read that names a table with waiting rows has them written
 * first (UnitOfWork); one that lists the table here has them written only when one of them passes its test.
 */
export type WaitingThatMatters = Readonly<Record<string, RowTest | NarrowedTest>>;

/** A table's waiting rows in the order given, with an index by column (of rows' places) for each column a hint asked
 * for. */
export class WaitingTable {
  readonly rows: LaterRow[] = [];
  private readonly indexes = new Map<string, Map<string, number[]>>();

  add(row: LaterRow): void {
    this.rows.push(row);
    for (const [column, index] of this.indexes) indexRow(index, this.rows.length - 1, row, column);
  }

  /** `row` in place of every row waiting here: for a table of one row whose latest value alone is written. */
  replaceWith(row: LaterRow): void {
    this.rows.length = 0;
    this.indexes.clear();
    this.add(row);
  }

  /** The rows that pass `which`, in their order. */
  matching(which: RowTest | NarrowedTest): LaterRow[] {
    return matching(this.candidates(which), testOf(which));
  }

  /** Whether a row passes `which`. */
  anyMatters(which: RowTest | NarrowedTest): boolean {
    return anyMatters(this.candidates(which), testOf(which));
  }

  /** The rows a test must look at, in their order: all of them, or those its hints name. */
  private candidates(which: RowTest | NarrowedTest): readonly LaterRow[] {
    if (typeof which === 'function') return this.rows;
    const places = new Set<number>();
    for (const { column, values } of which.narrow) {
      const index = this.indexOf(column);
      for (const v of values) for (const at of index.get(String(v)) ?? []) places.add(at);
    }
    return [...places].sort((a, b) => a - b).map((at) => this.rows[at]);
  }

  private indexOf(column: string): Map<string, number[]> {
    let index = this.indexes.get(column);
    if (!index) {
      this.indexes.set(column, (index = new Map()));
      this.rows.forEach((r, at) => indexRow(index!, at, r, column));
    }
    return index;
  }
}

/** `table`'s waiting rows in `later`, made when it has none yet. */
export function waitingTable(later: Map<string, WaitingTable>, table: string): WaitingTable {
  let same = later.get(table);
  if (!same) later.set(table, (same = new WaitingTable()));
  return same;
}

/** Whether a statement naming the tables `named` must have rows of `later` written first: it names their table,
 * and `matters` says nothing of that table or one of its rows passes the table's test. */
export function anyWaitingMatters(
  later: ReadonlyMap<string, WaitingTable>,
  named: ReadonlySet<string>,
  matters?: WaitingThatMatters,
): boolean {
  for (const [table, waiting] of later) {
    if (!named.has(table)) continue;
    const test = matters?.[table];
    if (!test || waiting.anyMatters(test)) return true;
  }
  return false;
}

const testOf = (which: RowTest | NarrowedTest): RowTest => (typeof which === 'function' ? which : which.test);

function indexRow(index: Map<string, number[]>, at: number, row: LaterRow, column: string): void {
  const i = row.keys.indexOf(column);
  if (i < 0 || row.values[i] === null || row.values[i] === undefined) return;
  const key = String(row.values[i]);
  const same = index.get(key);
  if (same) same.push(at);
  else index.set(key, [at]);
}

/** Whether one of `rows` (of one table) passes `test`. */
function anyMatters(rows: readonly LaterRow[], test: RowTest): boolean {
  if (!rows.length) return false;
  const read = readerOf(rows[0].keys);
  for (const r of rows) if (read(r, test)) return true;
  return false;
}

/** The rows of `rows` (of one table) that pass `test`, in their order. */
function matching(rows: readonly LaterRow[], test: RowTest): LaterRow[] {
  if (!rows.length) return [];
  const read = readerOf(rows[0].keys);
  return rows.filter((r) => read(r, test));
}

/**
 * Runs a test on rows of one table by column name. A table's waiting rows share their columns (one writer per
 * table): each column's place is looked up once per reader, not once per row.
 */
function readerOf(keys: readonly string[]): (row: LaterRow, test: RowTest) => boolean {
  const at = new Map<string, number>();
  let values: readonly unknown[] = [];
  const value = (column: string): unknown => {
    let i = at.get(column);
    if (i === undefined) at.set(column, (i = keys.indexOf(column)));
    return values[i];
  };
  return (row, test) => {
    values = row.values;
    return test(value);
  };
}

/** Values bound by one statement: below SQLite's (32 766) and PostgreSQL's (65 535) limits on parameters. */
const MOST_VALUES = 30_000;
/** Where statements are prepared and kept by their text (SQLite): any count of rows up to the first, above it powers of
 * two up to the second, so that a few texts serve every batch and do not push the hot statements out of the cache. */
const EXACT_ROWS_PREPARED = 16;
const MOST_ROWS_PREPARED = 64;

/** Tables whose waiting rows are written before the others': other rows name them (foreign keys are checked at each
 * statement), and a batch's first mail may be a reply, whose message waits before the next mail's new case does. */
const PARENTS_FIRST = ['tickets'];
const parentRank = (table: string) => {
  const i = PARENTS_FIRST.indexOf(table);
  return i < 0 ? PARENTS_FIRST.length : i;
};

/** One INSERT of a flush; `named`: its text does not depend on the count of rows (PostgreSQL may keep it prepared). */
export interface LaterInsert {
  sql: string;
  bindings: unknown[];
  named: boolean;
}

/** One table's rows as a JSON array, and the INSERT that reads them. */
interface JsonInsert {
  table: string;
  sql: string;
  json: string;
}

/**
 * The INSERTs that write `rows`: one per table (and column list and tail), the cases' table first (PARENTS_FIRST),
 * then the tables in the order they first appear, each table's rows in the order they were given (so ids keep that
 * order). With `prepared` (SQLite, whose statements are prepared and kept by their text) many rows go by powers of
 * two. Otherwise (PostgreSQL) each table's rows go as one JSON array (jsonInsertSql), all those tables in one
 * statement (jsonInsertsTogether): one round trip for the flush, and one text for any count of rows, which the server
 * parses and plans once per connection. Rows holding a value JSON cannot carry as it is (bytes, a date) go as VALUES,
 * in as few statements as the parameter limit allows.
 */
export function insertsOf(rows: readonly LaterRow[], prepared: boolean): LaterInsert[] {
  const tables = new Map<string, LaterRow[]>();
  for (const r of rows) {
    const key = `${r.table}\0${r.keys.join(',')}\0${r.tail}`;
    const same = tables.get(key);
    if (same) same.push(r);
    else tables.set(key, [r]);
  }
  const out: Array<LaterInsert | JsonInsert[]> = [];
  let together: JsonInsert[] | undefined;
  const ordered = [...tables.values()].sort((a, b) => parentRank(a[0].table) - parentRank(b[0].table));
  for (const same of ordered) {
    const { table, keys, tail } = same[0];
    if (!prepared && same.every((r) => r.values.every(isJsonScalar))) {
      // Tables in a row that go through JSON share a statement. A table's second column list starts another: inside
      // one, its ids could come before the first's.
      if (!together || together.some((t) => t.table === table)) out.push((together = []));
      together.push({ table, sql: jsonInsertSql(table, keys, tail), json: JSON.stringify(same.map(objectOf)) });
      continue;
    }
    // Rows as VALUES keep their place: the tables after them go in a statement after them (rows they name).
    together = undefined;
    const most = Math.max(1, Math.floor(MOST_VALUES / keys.length));
    for (let i = 0; i < same.length;) {
      let count = Math.min(same.length - i, most);
      if (prepared && count > EXACT_ROWS_PREPARED)
        count = 2 ** Math.floor(Math.log2(Math.min(count, MOST_ROWS_PREPARED)));
      const bindings = same.slice(i, i + count).flatMap((r) => r.values);
      out.push({ sql: insertSql(table, keys, count, tail), bindings, named: false });
      i += count;
    }
  }
  return out.map((o) => (Array.isArray(o) ? jsonInsertsTogether(o) : o));
}

/**
 * Several INSERTs as one statement, all but the last as data-modifying WITH queries. They run on one snapshot and
 * in no set order; foreign keys are checked at the end of the statement, so a case's rows may come before the case.
 * A refused row fails the whole statement, as it would fail the transaction when written alone.
 */
function jsonInsertsTogether(inserts: readonly JsonInsert[]): LaterInsert {
  const last = inserts[inserts.length - 1];
  const before = inserts.slice(0, -1).map((ins, i) => `"w${i + 1}" as (${ins.sql})`);
  return {
    sql: before.length ? `with ${before.join(', ')} ${last.sql}` : last.sql,
    bindings: inserts.map((ins) => ins.json),
    named: true,
  };
}

/** A value that goes through JSON and comes back the same to its column (text, bigint, boolean, null). */
function isJsonScalar(v: unknown): boolean {
  const t = typeof v;
  return v == null || t === 'string' || t === 'boolean' || (t === 'number' && Number.isFinite(v));
}

function objectOf(row: LaterRow): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  row.keys.forEach((k, i) => {
    const v = row.values[i];
    o[k] = typeof v === 'string' ? wellFormed(v) : (v ?? null);
  });
  return o;
}
