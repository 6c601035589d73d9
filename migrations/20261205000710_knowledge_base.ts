import type { Knex } from 'knex';

/**
 * The knowledge base: articles published from solved cases (`kb_articles`), and the search index over them and
 * over every solved case (`search_docs`, one row per case and kind). The indexed text is already stemmed by Mesa
 * (src/tickets/search-text.ts), so both engines index plain words: SQLite with an FTS5 table (unicode61,
 * diacritics removed), PostgreSQL with a generated tsvector in the `simple` configuration under a GIN index.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('kb_articles', (t) => {
    t.increments('id').primary();
    t.integer('ticket_id').notNullable().unique().references('tickets.id').onDelete('CASCADE');
    t.integer('number').notNullable();
    t.string('title', 300).notNullable();
    t.text('body').notNullable();
    t.string('product', 255);
    t.string('product_module', 255);
    t.string('published_by', 320).notNullable();
    t.bigInteger('published_at').notNullable();
    t.index(['product']);
  });
  await knex.schema.createTable('search_docs', (t) => {
    t.increments('id').primary();
    t.integer('ticket_id').notNullable().references('tickets.id').onDelete('CASCADE');
    /** `article` (published, customers see it) or `case` (a solved case, consultants only). */
    t.string('kind', 10).notNullable();
    t.string('product', 255);
    t.text('stemmed').notNullable();
    t.unique(['ticket_id', 'kind']);
  });
  if (knex.client.config.client === 'pg') {
    await knex.raw(
      `alter table "search_docs" add column "tsv" tsvector generated always as (to_tsvector('simple', "stemmed")) stored`,
    );
    await knex.raw('create index "search_docs_tsv" on "search_docs" using gin ("tsv")');
  } else {
    await knex.raw(
      `create virtual table "search_fts" using fts5("stemmed", tokenize = "unicode61 remove_diacritics 2")`,
    );
  }
}

export async function down(knex: Knex): Promise<void> {
  if (knex.client.config.client !== 'pg') await knex.raw('drop table if exists "search_fts"');
  await knex.schema.dropTableIfExists('search_docs');
  await knex.schema.dropTableIfExists('kb_articles');
}
