import type { Db } from '../knex.ts';

/**
 * Which blobs the database names (for `mesa gc`, src/storage/gc.ts). Every column that holds a blob's hash is listed
 * here, in one place: a new one must be added, or gc would take its files for orphans.
 */
const COLUMNS: ReadonlyArray<readonly [table: string, column: string]> = [
  ['messages', 'raw_sha256'],
  ['messages', 'html_sha256'],
  ['attachments', 'sha256'],
  ['quarantine', 'raw_sha256'],
  ['held_requests', 'raw_sha256'],
];

/** Bound values per statement, far below SQLite's 32 766 and PostgreSQL's 65 535. */
const CHUNK = 500;

/** The hashes among `candidates` that some row names (committed rows: the caller's own transaction aside). */
export async function namedBlobs(db: Db, candidates: readonly string[]): Promise<Set<string>> {
  const named = new Set<string>();
  for (let i = 0; i < candidates.length; i += CHUNK) {
    const chunk = candidates.slice(i, i + CHUNK);
    for (const [table, column] of COLUMNS) {
      for (const r of await db(table).distinct({ sha: column }).whereIn(column, chunk)) named.add(String(r.sha));
    }
  }
  // Mail not sent yet attaches files by hash (they are also a message's attachments, but say so here as well).
  for (const r of await db('outbox').select('mail_json').whereNot({ state: 'sent' }).andWhere('mail_json', 'like', '%sha256%')) {
    for (const a of (JSON.parse(r.mail_json).attachments ?? []) as Array<{ sha256?: string }>) if (a.sha256) named.add(a.sha256);
  }
  return named;
}
