import fs from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import type { Config } from '../config.ts';
import { Storage, type SqliteConnection } from './storage.ts';
import { makeDirectory } from '../directories.ts';

export type { Knex };
/** Repositories take either the pool or an open transaction. */
export type Db = Knex | Knex.Transaction;

/**
 * The one place that knows which database is behind DATABASE_URL. SQLite runs in WAL mode with a busy timeout,
 * so the web server, the pollers and a CLI command can share the file; writes are serialised by SQLite itself.
 */
/** knex prints its own warnings with console.log, i.e. to stdout, which would corrupt `--json` output and the
 * one-line answers an MTA pipe reads. Route them to stderr, one line each: the stack knex appends to some (a refused
 * connection) says nothing the line does not, and the error itself reaches Mesa's log or message whole. The pool
 * reports a refused connection once for each query that was waiting for it: the same line again within a second
 * is said once. */
let lastSaid = '';
let lastSaidAt = 0;
const say = (m: unknown) => {
  const line = `knex: ${String(m).split('\n')[0]}\n`;
  // Within a second: the same refusal reported for each waiting query. Later it is news again (a second outage).
  if (line !== lastSaid || Date.now() - lastSaidAt > 1000) process.stderr.write(line);
  lastSaid = line;
  lastSaidAt = Date.now();
};
const log = { warn: say, error: say, deprecate: say, debug: () => {} };

/** Pages of WAL after which a commit checkpoints (SQLite's default: 1,000). */
export const WAL_AUTOCHECKPOINT_PAGES = 10_000;

export function openDatabase(database: Config['database']): Knex {
  if (database.client === 'pg') {
    // knex's default wait for a pooled connection (60 s) is generous on purpose: a loaded server (or a burst of
    // instances starting) should slow Mesa down, not turn mail into tempfails. A server that is down fails fast anyway
    // (connection refused).
    return withStorage(
      knexFactory({ client: 'pg', log, connection: database.url, pool: { min: 0, max: 10 } }),
      new Storage(),
    );
  }
  const { filename, lockWaitMs } = database;
  makeDirectory(path.dirname(filename));
  const storage = new Storage();
  const db = knexFactory({
    client: 'better-sqlite3',
    log,
    connection: { filename },
    useNullAsDefault: true,
    // One connection: inside a transaction, the pool's connection is the transaction's (src/db/storage.ts).
    pool: {
      min: 1,
      max: 1,
      afterCreate(conn: any, done: (err: Error | null, conn: unknown) => void) {
        // First: how long a statement waits for a lock another process holds, before anything else asks for one
        // (switching a new file to WAL does).
        conn.pragma(`busy_timeout = ${lockWaitMs}`);
        conn.pragma('journal_mode = WAL');
        conn.pragma('synchronous = NORMAL');
        conn.pragma('foreign_keys = ON');
        // A savepoint (src/db/unit-of-work.ts: each mail of a batch that runs again carefully) makes SQLite copy every
        // page it changes into a sub-journal first; with temp files on disk that is a pwrite() per page to a temporary
        // file once a mail has changed more than 64 KB. In memory the copy is a memcpy. Temporary tables and sorts
        // also stay in memory, and the ingest's statements need none (docs/performance.md).
        conn.pragma('temp_store = MEMORY');
        // A checkpoint copies every page changed since the last one into the database file, once per page however
        // often it changed. The ingest changes a few pages per mail, many of them again and again (the end of each
        // table, the counters), so checkpointing every 10,000 pages (40 MB of WAL) instead of SQLite's 1,000 copies
        // the same pages far fewer times (docs/performance.md).
        conn.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
        beginImmediate(conn);
        storage.connected(conn as SqliteConnection);
        done(null, conn);
      },
    },
  });
  return withStorage(db, storage);
}

/** `db` with its Storage in knex's public `userParams`, which its transactions share (storageOf). */
function withStorage(db: Knex, storage: Storage): Knex {
  db.userParams = { ...db.userParams, storage };
  return db;
}

/**
 * How a transaction begins on SQLite: IMMEDIATE, holding the database's one write lock from BEGIN to COMMIT. knex
 * begins every transaction with a plain BEGIN (DEFERRED): the transaction starts as a reader and asks for the write
 * lock at its first write. In WAL mode SQLite cannot wait there. A reader that wants to become the writer while
 * another connection holds the write lock, or after another connection committed since the reader's snapshot, gets
 * SQLITE_BUSY (SQLITE_BUSY_SNAPSHOT) at once, without calling the busy handler: its snapshot is stale and no amount of
 * waiting makes it fresh (sqlite.org/lang_transaction.html, sqlite.org/rescode.html#busy_snapshot). Every Mesa
 * transaction reads, then writes (the ingest's duplicate check before its ledger row, the jobs' locked re-read, the
 * outbox claim, migrations), so with several processes on one file (an MTA's parallel `mesa ingest -`, `mesa start`,
 * cron's `mesa jobs`) they failed as "database is locked" while the lock was free a few milliseconds later.
 * IMMEDIATE asks for the lock at BEGIN, where the busy handler waits for it (`busy_timeout`, SQLITE_LOCK_WAIT_SECONDS):
 * writers take turns. Reads outside a transaction never take it. Every transaction Mesa opens writes.
 */
export const SQLITE_BEGIN = 'BEGIN IMMEDIATE';

/**
 * knex's BEGIN on this connection is SQLITE_BEGIN: the one place that decides how a SQLite transaction starts, and the
 * only thing Mesa changes on the driver's connection. knex offers no public way to choose how its transactions begin
 * on better-sqlite3, and without it concurrent writers fail with SQLITE_BUSY_SNAPSHOT (above).
 */
function beginImmediate(conn: { prepare(sql: string): unknown }): void {
  const prepare = conn.prepare.bind(conn);
  conn.prepare = (sql: string) =>
    prepare(/^BEGIN( DEFERRED)?( TRANSACTION)?;?$/i.test(sql.trim()) ? SQLITE_BEGIN : sql);
}

/**
 * Makes what has been committed durable, before the caller acts on it outside Mesa (the poller moves the mails it
 * recorded off the server). PostgreSQL fsyncs every commit itself. SQLite runs WAL with synchronous=NORMAL: a commit
 * is written to the WAL file but not fsynced, so a crash of Mesa loses nothing, while a power cut may lose the last
 * commits. The ingest calls this once per batch (its mails' raw sources are rows, src/storage/originals.ts): one
 * fdatasync of the WAL file, in libuv's thread pool rather than on the event loop, instead of synchronous=FULL's
 * fsync on the event loop at every commit. No WAL file means everything was checkpointed into the database file,
 * which SQLite syncs after each checkpoint.
 */
export async function syncCommitted(db: Knex): Promise<void> {
  if (db.client.config.client !== 'better-sqlite3') return;
  const filename = (db.client.config.connection as { filename: string }).filename;
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(`${filename}-wal`, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

/** SQLite gave up waiting for a lock another connection held (SQLITE_BUSY and its extended codes): past busy_timeout,
 * or, for a transaction that did not begin IMMEDIATE, at once. */
export function isLockTimeout(err: unknown): boolean {
  return /^SQLITE_BUSY/.test(String((err as { code?: string })?.code));
}

/** On PostgreSQL? Of knex, or of a unit of work (its `trx`). */
export function isPostgres(db: Db | { readonly trx: Knex.Transaction }): boolean {
  return ('trx' in db ? db.trx : db).client.config.client === 'pg';
}

/**
 * True when an SQLite database holds STAT4 samples (`sqlite_stat4`, written by ANALYZE or PRAGMA optimize: Mesa
 * never runs either). better-sqlite3 is built with SQLITE_ENABLE_STAT4, and with those samples SQLite plans an
 * indexed lookup again each time the value bound to it changes (sqlite3_prepare_v2's documentation). The ingest makes
 * such lookups for every mail, and its duplicate check becomes several times slower on a large database
 * (docs/performance.md, «Crecimiento»). `mesa start` warns about it.
 */
export async function hasStat4Samples(db: Knex): Promise<boolean> {
  if (isPostgres(db)) return false;
  const table = await db('sqlite_master').where({ type: 'table', name: 'sqlite_stat4' }).first('name');
  if (!table) return false;
  return Boolean(await db('sqlite_stat4').first('tbl'));
}
