import type { Knex } from 'knex';

/**
 * Sent mail is deleted from the outbox after OUTBOX_RETENTION_DAYS (src/jobs/housekeeping.ts): the scheduled jobs
 * look for the oldest sent rows at every run, so they need an index by state and sending time.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbox', (t) => {
    t.index(['state', 'sent_at'], 'outbox_state_sent_at_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbox', (t) => {
    t.dropIndex(['state', 'sent_at'], 'outbox_state_sent_at_index');
  });
}
