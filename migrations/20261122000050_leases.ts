import type { Knex } from 'knex';

/**
 * Mailbox leases: which instance polls which mailbox. One row per lease name; the holder renews `expires_at` by
 * heartbeat and another instance may take the row over once it has expired. Times are epoch milliseconds from the
 * database's own clock, so instances with skewed clocks still agree on who holds what.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('leases', (t) => {
    t.string('name', 255).primary();
    t.string('holder', 255).notNullable();
    t.bigInteger('acquired_at').notNullable();
    t.bigInteger('renewed_at').notNullable();
    t.bigInteger('expires_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('leases');
}
