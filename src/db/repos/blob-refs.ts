import { knexOf, type Queryable } from '../sql.ts';

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

/** Rows read per statement: memory stays bounded however large the tables are. */
const PAGE = 5000;

/**
 * The hashes among `candidates` that some committed row names. Each table is read once, in pages by id: the hash
 * columns have no index (one more per row written would slow every ingest down for a search made once a day), and
 * gc's candidates are most of the store, so asking per hash would scan the tables again and again.
 */
export async function namedBlobs(queryable: Queryable, candidates: readonly string[]): Promise<Set<string>> {
  const db = knexOf(queryable);
  const wanted = new Set(candidates);
  const named = new Set<string>();
  for (const [table, column] of COLUMNS) {
    for (let after = 0; ;) {
      const page = await db(table)
        .select('id', { sha: column })
        .where('id', '>', after)
        .whereNotNull(column)
        .orderBy('id')
        .limit(PAGE);
      for (const r of page) if (wanted.has(String(r.sha))) named.add(String(r.sha));
      if (page.length < PAGE) break;
      after = Number(page[page.length - 1].id);
    }
  }
  // Mail not sent yet attaches files by hash (they are also a message's attachments, but say so here as well).
  for (const r of await db('outbox')
    .select('mail_json')
    .whereNot({ state: 'sent' })
    .andWhere('mail_json', 'like', '%sha256%')) {
    for (const a of (JSON.parse(r.mail_json).attachments ?? []) as Array<{ sha256?: string }>)
      if (a.sha256) named.add(a.sha256);
  }
  return named;
}
