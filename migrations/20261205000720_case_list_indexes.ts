import type { Knex } from 'knex';

/**
 * "Mis casos" over an organization with many cases: its newest page read from an index of the organization's cases
 * by date, not by sorting all of them. No index by product or consultant: without statistics SQLite would prefer it
 * to (organization, stage) for "open cases of product X", and read every case of that product (17 ms instead of
 * 0.05 ms for the count at 100,000 cases; docs/performance.md). The filter's choices of product and consultant are
 * read once a minute (src/services/case-list.ts).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tickets', (t) => {
    t.index(['organization', 'created_at'], 'tickets_organization_created_at');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tickets', (t) => {
    t.dropIndex(['organization', 'created_at'], 'tickets_organization_created_at');
  });
}
