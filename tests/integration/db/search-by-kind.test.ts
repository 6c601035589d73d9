import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { afterEach, describe, expect, it } from 'vitest';
import { migrateLatest } from '../../../src/db/migrate.ts';
import { searchDocs, upsertSearchDoc } from '../../../src/db/repos/search.ts';
import { onPostgres } from '../../support/app.ts';
import { freshDatabase } from '../../postgres/support/pg.ts';

/**
 * migrations/20261205000900_search_by_kind.ts: the search index split by kind (one FTS5 table per kind on SQLite,
 * one partial GIN index per kind on PostgreSQL), so that an article search never ranks solved cases. A database
 * indexed before the split keeps finding the same documents after it.
 */
const DIR = path.resolve(import.meta.dirname, '../../../migrations');
const SPLIT = '20261205000900_search_by_kind';
let db: Knex | undefined;
afterEach(async () => {
  await db?.destroy();
  db = undefined;
});

async function emptyDatabase(): Promise<Knex> {
  if (onPostgres) return knexFactory({ client: 'pg', connection: await freshDatabase('mesa_search_kind') });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-search-kind-'));
  return knexFactory({
    client: 'better-sqlite3',
    connection: { filename: path.join(dir, 'mesa.sqlite') },
    useNullAsDefault: true,
  });
}

/** The migrations before the split, from the sources, recorded by the same names `migrateLatest` uses. */
const before: Knex.MigrationSource<string> = {
  getMigrations: async () =>
    fs
      .readdirSync(DIR)
      .filter((f) => /^\d+_.+\.ts$/.test(f) && f < SPLIT)
      .sort(),
  getMigrationName: (f) => f.replace(/\.ts$/, ''),
  getMigration: (f) => import(path.join(DIR, f)),
};

/** A closed case as the version before the split wrote it: today's insertTicket also writes columns added since. */
let numbered = 0;
async function solvedCase(k: Knex, subject: string): Promise<number> {
  const now = Date.now();
  const [row] = await k('tickets')
    .insert({
      number: ++numbered,
      subject,
      requester: 'cliente@empresa.com',
      organization: 'empresa.com',
      priority: 'media',
      stage: 'cerrado',
      waiting_on: 'soporte',
      created_at: now,
      updated_at: now,
    })
    .returning('id');
  return Number(typeof row === 'object' ? row.id : row);
}

describe('search index by kind', () => {
  it('keeps the documents indexed before the split, each kind searched in its own index', async () => {
    db = await emptyDatabase();
    const k = db;
    await k.migrate.latest({ migrationSource: before, tableName: 'knex_migrations' });
    // Indexed as the previous version did: one FTS5 table for both kinds (SQLite), one GIN index (PostgreSQL).
    const published = await solvedCase(k, 'Factura electrónica rechazada');
    const internal = await solvedCase(k, 'Factura duplicada');
    const docs: Array<[number, 'article' | 'case', string]> = [
      [published, 'case', 'factur electron rechaz'],
      [published, 'article', 'factur electron rechaz'],
      [internal, 'case', 'factur duplic'],
    ];
    for (const [ticketId, kind, stemmed] of docs) {
      const [row] = await k('search_docs').insert({ ticket_id: ticketId, kind, stemmed }).returning('id');
      const id = Number(typeof row === 'object' ? row.id : row);
      if (!onPostgres) await k.raw('insert into "search_fts" (rowid, "stemmed") values (?, ?)', [id, stemmed]);
    }

    // The split, and whatever came after it.
    const ran = await migrateLatest(k);
    expect(ran[0]).toBe(SPLIT);
    expect(ran.every((name) => name >= SPLIT)).toBe(true);
    const ids = async (kind: 'article' | 'case') =>
      (await searchDocs(k, { kind, terms: ['factur'], limit: 10 })).map((r) => r.ticketId).sort();
    expect(await ids('article')).toEqual([published]);
    expect(await ids('case')).toEqual([internal, published].sort());

    // New documents go to their kind's index; an article is updated in place, not indexed twice.
    const later = await solvedCase(k, 'Nómina no liquida');
    await upsertSearchDoc(k, { ticketId: later, kind: 'article', stemmed: 'nomin liquid' });
    await upsertSearchDoc(k, { ticketId: later, kind: 'article', stemmed: 'nomin liquid prim' });
    expect((await searchDocs(k, { kind: 'article', terms: ['prim'], limit: 10 })).map((r) => r.ticketId)).toEqual([
      later,
    ]);
    expect(await searchDocs(k, { kind: 'case', terms: ['nomin'], limit: 10 })).toEqual([]);

    if (onPostgres) {
      const indexes = (await k.raw(`select indexname from pg_indexes where tablename = 'search_docs'`)).rows.map(
        (r: { indexname: string }) => r.indexname,
      );
      expect(indexes).toEqual(expect.arrayContaining(['search_docs_tsv_article', 'search_docs_tsv_case']));
      expect(indexes).not.toContain('search_docs_tsv');
      // The article search reads the articles' own index: told to avoid plain scans of this tiny table, and without
      // the (ticket, kind) key for the planner to prefer, in a transaction rolled back.
      const trx = await k.transaction();
      await trx.raw('set local enable_seqscan = off');
      await trx.raw('alter table "search_docs" drop constraint "search_docs_ticket_id_kind_unique"');
      const r = await trx.raw(
        `explain select "ticket_id" from "search_docs" as "d", to_tsquery('simple', 'factur:*') as "q" where "d"."tsv" @@ "q" and "d"."kind" = 'article'`,
      );
      await trx.rollback();
      const plan = r.rows.map((x: Record<string, string>) => x['QUERY PLAN']).join('\n');
      expect(plan).toContain('search_docs_tsv_article');
    } else {
      expect(Number((await k.raw('select count(*) as n from "search_fts_articles"'))[0].n)).toBe(2);
      expect(Number((await k.raw('select count(*) as n from "search_fts_cases"'))[0].n)).toBe(2);
    }
  });
});
