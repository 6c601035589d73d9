import type { Knex } from 'knex';

/**
 * The dispatcher's name in a claimed outbox row is `host:pid:tag` (src/db/holders.ts). Linux allows hostnames of 64
 * characters and a Kubernetes pod is named up to 63: with 64 here, PostgreSQL refused every claim on such a machine
 * («value too long for type character varying(64)») and no mail ever left. 255, like `leases.holder`. SQLite does not
 * enforce a declared length, and altering a column there copies the whole table: nothing to do on it.
 */
export async function up(knex: Knex): Promise<void> {
  if (knex.client.config.client !== 'pg') return;
  await knex.schema.alterTable('outbox', (t) => {
    t.string('claimed_by', 255).alter();
  });
}

export async function down(knex: Knex): Promise<void> {
  if (knex.client.config.client !== 'pg') return;
  await knex.schema.alterTable('outbox', (t) => {
    t.string('claimed_by', 64).alter();
  });
}
