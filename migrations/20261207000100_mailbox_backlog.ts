import type { Knex } from 'knex';

/**
 * Where the first read of each mailbox started (MAILBOX_BACKLOG_DAYS, src/inbound/mailbox-backlog.ts): the instant
 * before which mail already in the mailbox was left there. Graph starts a delta query afresh when its token goes
 * stale, and that query must leave out the same mail again; null when the first read took everything (or happened
 * before this column).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('mailbox_state', (t) => {
    t.bigInteger('backlog_before');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('mailbox_state', (t) => {
    t.dropColumn('backlog_before');
  });
}
