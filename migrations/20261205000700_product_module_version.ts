import type { Knex } from 'knex';

/**
 * The module and version of the product a case is about (the product itself has had its column since the first
 * schema): read from the subject when the case opens, set or corrected by a consultant's `/producto` command.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tickets', (t) => {
    t.string('product_module', 255);
    t.string('product_version', 40);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tickets', (t) => {
    t.dropColumn('product_module');
    t.dropColumn('product_version');
  });
}
