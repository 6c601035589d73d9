import type { Knex } from 'knex';

/**
 * Outbound mail (issue 3): the transactional outbox, the magic links behind "Consultar mi caso", and the
 * addresses we stop mailing automatically after a hard bounce. Runs on SQLite and PostgreSQL.
 */
export async function up(knex: Knex): Promise<void> {
  /**
   * One row per mail to one recipient, rendered when the case change commits (so a retry sends the very same
   * bytes, Message-ID included). `idempotency_key` is unique: the same event can never enqueue a mail twice.
   * state: pending → sending (claimed, with a lease) → sent | dead; `held` = never sent (loop budget, bounce).
   */
  await knex.schema.createTable('outbox', (t) => {
    t.increments('id').primary();
    t.string('idempotency_key', 255).notNullable().unique();
    t.integer('ticket_id').references('tickets.id').onDelete('SET NULL');
    t.string('kind', 48).notNullable();
    t.string('recipient', 320).notNullable();
    t.boolean('automatic').notNullable().defaultTo(true);
    t.string('message_id', 998).notNullable();
    t.text('subject').notNullable();
    t.text('mail_json').notNullable(); // from, replyTo, headers, html, text, attachments (blob refs)
    t.string('state', 16).notNullable().defaultTo('pending');
    t.integer('attempts').notNullable().defaultTo(0);
    t.bigInteger('next_attempt_at').notNullable();
    t.bigInteger('lease_until');
    t.string('claimed_by', 64);
    t.text('last_error');
    t.string('held_reason', 64);
    t.bigInteger('created_at').notNullable();
    t.bigInteger('sent_at');
    t.index(['state', 'next_attempt_at']);
    t.index(['recipient', 'created_at']);
    t.index(['ticket_id']);
  });

  /** Magic links, stored only as a SHA-256 of the token: a leaked database yields no working link. */
  await knex.schema.createTable('links', (t) => {
    t.increments('id').primary();
    t.integer('ticket_id').notNullable().references('tickets.id').onDelete('CASCADE');
    t.string('recipient', 320).notNullable();
    t.integer('generation').notNullable();
    t.string('token_hash', 64).notNullable().unique();
    t.bigInteger('expires_at').notNullable();
    t.bigInteger('revoked_at');
    t.string('revoked_reason', 64);
    t.bigInteger('created_at').notNullable();
    t.bigInteger('last_used_at');
    t.unique(['ticket_id', 'recipient', 'generation']);
  });

  /** Addresses that hard-bounced our mail: no automatic mail to them until `until`. */
  await knex.schema.createTable('mail_suppressions', (t) => {
    t.string('address', 320).primary();
    t.string('reason', 255).notNullable();
    t.integer('ticket_id');
    t.bigInteger('until').notNullable();
    t.bigInteger('created_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['mail_suppressions', 'links', 'outbox']) await knex.schema.dropTableIfExists(table);
}
