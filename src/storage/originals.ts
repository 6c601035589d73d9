import { insertSql, row, run, type Queryable } from '../db/sql.ts';
import { MesaError } from '../errors.ts';
import type { BlobStore } from './blobs.ts';

/**
 * The raw source of a mail Mesa keeps (a case's message, a held request, a quarantined mail): the one thing it must
 * never lose, because everything else can be extracted from it again.
 *
 * Up to ORIGINAL_IN_DB_MAX bytes it is a row of `raw_sources`, written in the same transaction as the rows that
 * name it, so it commits (and is flushed to disk, src/db/knex.ts syncCommitted) with them, once per batch. Before,
 * each one was a file of the blob store, created and fsynced on its own, a cost every mail paid for a file
 * (docs/performance.md, «Decisiones medidas»). On PostgreSQL it also means every instance sees every original,
 * without a shared DATA_DIR for them.
 *
 * A larger one (up to MAX_MESSAGE_BYTES, or beyond for a mail quarantined as too large) stays a file of the blob
 * store, fsynced before the transaction that names it commits: a database row of tens of MB would be held whole in
 * memory on every read, and SQLite would copy it into its WAL and again into the database.
 */
export const ORIGINAL_IN_DB_MAX = 1024 * 1024;

export interface Original {
  sha256: string;
  raw: Buffer;
}

/** Rows per INSERT: 4 values each, far below both databases' limits on bound values (SQLite 32 766). */
const ROWS_PER_INSERT = 100;

/**
 * Keeps these raw sources inside `trx` (the same bytes twice: once). The ingest calls it once per batch, after the
 * mails' savepoints and before the commit: one multi-row INSERT instead of one per mail (on PostgreSQL each statement
 * is a round trip).
 */
export async function keepOriginals(
  trx: Queryable,
  blobs: BlobStore,
  originals: readonly Original[],
  now: number,
): Promise<void> {
  const rows = new Map<string, Buffer>();
  for (const o of originals) {
    if (o.raw.length > ORIGINAL_IN_DB_MAX) await blobs.put(o.raw, { sha256: o.sha256 });
    else rows.set(o.sha256, o.raw);
  }
  const all = [...rows];
  for (let i = 0; i < all.length; i += ROWS_PER_INSERT) {
    const chunk = all.slice(i, i + ROWS_PER_INSERT);
    await run(
      trx,
      insertSql(
        'raw_sources',
        ['sha256', 'size', 'data', 'created_at'],
        chunk.length,
        'on conflict ("sha256") do nothing',
      ),
      chunk.flatMap(([sha256, raw]) => [sha256, raw.length, raw, now]),
    );
  }
}

/** The raw source with this hash, wherever it was kept (older installations kept every original as a file). */
export async function readOriginal(db: Queryable, blobs: BlobStore, sha256: string): Promise<Buffer> {
  // better-sqlite3 (BLOB) and node-postgres (bytea) both answer a Buffer.
  const found = await row<{ data: Buffer }>(db, 'select "data" from "raw_sources" where "sha256" = ?', [sha256]);
  if (found) return found.data;
  return blobs.get(sha256).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new MesaError('ORIGINAL_MISSING', sha256.slice(0, 12));
    throw err;
  });
}
