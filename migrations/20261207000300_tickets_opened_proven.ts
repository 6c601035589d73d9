import type { Knex } from 'knex';

/**
 * Whether the mail that opened a case proved its sender (src/inbound/filters/customer-proof.ts: DMARC pass written by
 * our receiving server, or an answer to a mail we signed for that address). The open-case limit counts, for a sender
 * who proves who they are, only the cases opened the same way: mail with a forged From can no longer fill an
 * organization's limit and hold back its real customers. Cases opened before this column count as proven, so the
 * limit keeps its meaning for them.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tickets', (t) => {
    t.boolean('opened_proven').notNullable().defaultTo(true);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tickets', (t) => {
    t.dropColumn('opened_proven');
  });
}
