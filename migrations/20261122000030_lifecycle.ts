import type { Knex } from 'knex';

/**
 * Case lifecycle (issue 5): the last SLA light recorded per case (so a change is logged once), requests held
 * back by the open-case limit or entitlement (kept, never dropped), and marks for once-a-day jobs (the digest).
 * Runs on SQLite and PostgreSQL.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tickets', (t) => {
    t.string('sla_light', 8);
  });

  /**
   * A mail that would have opened a case but was held: over the organization's open-case limit, or from an
   * organization not entitled to file cases. `case_json` is the case exactly as it would have been opened (the
   * raw source and attachments are in the blob store), so releasing it opens the same case.
   * state: held → opened (a case was made from it) | dismissed.
   */
  await knex.schema.createTable('held_requests', (t) => {
    t.increments('id').primary();
    t.string('organization', 255).notNullable();
    t.string('requester', 320).notNullable();
    t.string('reason', 32).notNullable(); // over_limit | not_entitled
    t.text('subject').notNullable();
    t.string('message_id', 998);
    t.string('raw_sha256', 64);
    t.text('case_json').notNullable();
    t.string('state', 16).notNullable().defaultTo('held');
    t.integer('ticket_id').references('tickets.id').onDelete('SET NULL');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('resolved_at');
    t.index(['organization', 'state']);
    t.index(['state', 'created_at']);
  });

  await knex.schema.createTable('job_marks', (t) => {
    t.string('name', 400).primary(); // e.g. digest:ana@mesa.test
    t.string('value', 64).notNullable(); // e.g. the local date it last ran for
    t.bigInteger('updated_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('job_marks');
  await knex.schema.dropTableIfExists('held_requests');
  await knex.schema.alterTable('tickets', (t) => {
    t.dropColumn('sla_light');
  });
}
