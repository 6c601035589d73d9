import type { Knex } from 'knex';

/**
 * "Mis casos" over an organization with many cases: its newest page, and the products and consultants its filter
 * offers, read from an index of the organization's cases instead of the cases themselves.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tickets', (t) => {
    t.index(['organization', 'created_at'], 'tickets_organization_created_at');
    t.index(['organization', 'product'], 'tickets_organization_product');
    t.index(['organization', 'assignee'], 'tickets_organization_assignee');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tickets', (t) => {
    t.dropIndex(['organization', 'created_at'], 'tickets_organization_created_at');
    t.dropIndex(['organization', 'product'], 'tickets_organization_product');
    t.dropIndex(['organization', 'assignee'], 'tickets_organization_assignee');
  });
}
