import type { Knex } from 'knex';

/**
 * Request counters of the status page's per-IP limits (src/web/rate-limit-store.ts), in the database so that every
 * instance behind a balancer counts the same requests, and a restart does not reset them. One row per route and
 * client address, for its current window.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('rate_limits', (t) => {
    t.string('key', 400).primary();
    t.integer('hits').notNullable();
    t.bigInteger('expires_at').notNullable().index();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('rate_limits');
}
