import type { Knex } from 'knex';

/**
 * The search index split by kind, so that a search for published articles ranks articles only (issue 27). Before,
 * solved cases and articles shared one index and the kind was checked after the match: a customer's search over a
 * few thousand articles ranked every matching solved case too (docs/performance.md). SQLite: one FTS5 table per
 * kind (`search_fts_cases`, the old `search_fts` renamed, and `search_fts_articles`), rowid = `search_docs.id` as
 * before. PostgreSQL: one partial GIN index per kind instead of the one over both.
 */
const FTS = `using fts5("stemmed", tokenize = "unicode61 remove_diacritics 2")`;

export async function up(knex: Knex): Promise<void> {
  if (knex.client.config.client === 'pg') {
    await knex.raw(
      `create index "search_docs_tsv_article" on "search_docs" using gin ("tsv") where "kind" = 'article'`,
    );
    await knex.raw(`create index "search_docs_tsv_case" on "search_docs" using gin ("tsv") where "kind" = 'case'`);
    await knex.raw('drop index if exists "search_docs_tsv"');
    return;
  }
  await knex.raw('alter table "search_fts" rename to "search_fts_cases"');
  await knex.raw(`create virtual table "search_fts_articles" ${FTS}`);
  await knex.raw(
    `insert into "search_fts_articles" (rowid, "stemmed") select "id", "stemmed" from "search_docs" where "kind" = 'article'`,
  );
  await knex.raw(
    `delete from "search_fts_cases" where rowid in (select "id" from "search_docs" where "kind" = 'article')`,
  );
}

export async function down(knex: Knex): Promise<void> {
  if (knex.client.config.client === 'pg') {
    await knex.raw('create index "search_docs_tsv" on "search_docs" using gin ("tsv")');
    await knex.raw('drop index if exists "search_docs_tsv_article"');
    await knex.raw('drop index if exists "search_docs_tsv_case"');
    return;
  }
  await knex.raw(
    'insert into "search_fts_cases" (rowid, "stemmed") select rowid, "stemmed" from "search_fts_articles"',
  );
  await knex.raw('drop table "search_fts_articles"');
  await knex.raw('alter table "search_fts_cases" rename to "search_fts"');
}
