import type { Knex } from 'knex';

/**
 * The status page's own bookkeeping:
 * - `web_submissions`: one row per form submitted from the page (a message, a rating), keyed by the case and the
 *   per-form nonce the page rendered, written in the same transaction as the effect. A double click or a resent
 *   POST finds the row and adds nothing twice.
 * - `link_requests`: when someone asked for a fresh link (per case) or for "lost my link" mail (per address hash),
 *   so those requests can be rate-limited across restarts and instances. Addresses are stored hashed.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('web_submissions', (t) => {
    t.integer('ticket_id').notNullable().references('tickets.id').onDelete('CASCADE');
    t.string('nonce', 64).notNullable();
    t.string('kind', 16).notNullable(); // message | rating
    t.integer('message_row_id');
    t.bigInteger('created_at').notNullable();
    t.primary(['ticket_id', 'nonce']);
  });
  await knex.schema.createTable('link_requests', (t) => {
    t.increments('id').primary();
    t.string('kind', 16).notNullable(); // fresh | lost
    t.string('subject_key', 96).notNullable(); // case:<id> | addr:<sha256>
    t.bigInteger('created_at').notNullable();
    t.index(['subject_key', 'created_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('link_requests');
  await knex.schema.dropTableIfExists('web_submissions');
}
