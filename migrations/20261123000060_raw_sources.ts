import type { Knex } from 'knex';

/**
 * The raw source of each mail that Mesa keeps (a case's message, a held request, a quarantined mail), up to
 * ORIGINAL_IN_DB_MAX bytes, stored in the database, in the same transaction as the rows that name it by hash.
 * Larger ones stay in the blob store as fsynced files (src/storage/originals.ts says why).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('raw_sources', (t) => {
    t.string('sha256', 64).primary();
    t.integer('size').notNullable();
    t.binary('data').notNullable();
    t.bigInteger('created_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('raw_sources');
}
