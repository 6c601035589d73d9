import type { Knex } from 'knex';

/**
 * Mailbox leases: which instance reads which mailbox. The lock itself is a PostgreSQL advisory lock
 * (src/db/leases.ts); this table is its visible record: holder, when it took the mailbox, when it last proved
 * alive (epoch ms).
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
