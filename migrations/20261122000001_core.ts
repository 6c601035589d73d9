import type { Knex } from 'knex';

/**
 * The core schema: cases ("tickets"), their messages, attachments, people and event log; the ingestion ledger
 * and quarantine; per-mailbox polling state; and the numbering counter. Runs on SQLite and PostgreSQL.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('counters', (t) => {
    t.string('name', 64).primary();
    t.bigInteger('value').notNullable();
  });
  await knex('counters').insert({ name: 'ticket_number', value: 0 });

  await knex.schema.createTable('tickets', (t) => {
    t.increments('id').primary();
    t.integer('number').notNullable().unique();
    t.text('subject').notNullable();
    t.string('requester', 320).notNullable();
    t.string('requester_name', 320);
    t.string('organization', 255).notNullable();
    t.string('category', 64);
    t.string('product', 255);
    t.string('priority', 16).notNullable();
    t.string('stage', 16).notNullable();
    t.string('waiting_on', 16).notNullable();
    t.string('assignee', 320);
    t.string('mailbox', 64);
    /** A case opened from a stranger's reply, or from a reply to a case closed long ago, names the old number. */
    t.integer('related_number');
    t.string('related_reason', 32);
    t.string('rating', 32);
    t.text('rating_comment');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.bigInteger('first_response_at');
    t.bigInteger('closed_at');
    t.index(['organization', 'stage']);
    t.index(['requester']);
    t.index(['stage']);
  });

  await knex.schema.createTable('participants', (t) => {
    t.integer('ticket_id').notNullable().references('tickets.id').onDelete('CASCADE');
    t.string('address', 320).notNullable();
    t.string('role', 16).notNullable(); // requester | cc | consultant
    t.bigInteger('added_at').notNullable();
    t.primary(['ticket_id', 'address']);
    t.index(['address']);
  });

  await knex.schema.createTable('messages', (t) => {
    t.increments('id').primary();
    t.integer('ticket_id').notNullable().references('tickets.id').onDelete('CASCADE');
    t.string('role', 16).notNullable(); // customer | consultant | system
    t.string('source', 16).notNullable(); // mail | web | system
    t.string('from_address', 320);
    t.string('from_name', 320);
    t.text('to_json');
    t.text('cc_json');
    t.string('message_id', 998);
    t.text('subject');
    t.text('body_text').notNullable(); // what the person wrote: quotes and signature stripped
    t.text('full_text'); // the whole text part, quotes included
    t.string('html_sha256', 64); // original HTML, kept as a blob
    t.string('raw_sha256', 64); // the raw source, kept as a blob
    t.boolean('internal').notNullable().defaultTo(false);
    t.boolean('verified').notNullable().defaultTo(true);
    t.string('note_kind', 32); // for system notes: auto_reply | bounce | ...
    t.bigInteger('sent_at'); // Date header, when believable
    t.bigInteger('created_at').notNullable();
    t.bigInteger('read_at');
    t.index(['ticket_id', 'created_at']);
  });

  /** Every Message-ID that belongs to a case (ours and theirs): threading by In-Reply-To/References. */
  await knex.schema.createTable('thread_ids', (t) => {
    t.string('message_id', 998).notNullable();
    t.integer('ticket_id').notNullable().references('tickets.id').onDelete('CASCADE');
    t.primary(['message_id', 'ticket_id']);
  });

  await knex.schema.createTable('attachments', (t) => {
    t.increments('id').primary();
    t.integer('message_id').notNullable().references('messages.id').onDelete('CASCADE');
    t.text('filename').notNullable();
    t.string('content_type', 255).notNullable();
    t.bigInteger('size').notNullable();
    t.string('sha256', 64).notNullable();
    t.string('content_id', 998);
    t.boolean('inline').notNullable().defaultTo(false);
    t.index(['message_id']);
  });

  await knex.schema.createTable('events', (t) => {
    t.increments('id').primary();
    t.integer('ticket_id').notNullable().references('tickets.id').onDelete('CASCADE');
    t.string('type', 48).notNullable();
    t.string('actor', 320);
    t.string('from_value', 64);
    t.string('to_value', 64);
    t.text('reason');
    t.text('data_json');
    t.bigInteger('created_at').notNullable();
    t.index(['ticket_id', 'created_at']);
  });

  /**
   * The ingestion ledger: one row per mail taken from a source, written in the same transaction as its effect.
   * `source_key` is `mailbox:uidvalidity:uid` for IMAP and `file:<sha256>` / `stdin:<sha256>` otherwise.
   */
  await knex.schema.createTable('ingest_ledger', (t) => {
    t.increments('id').primary();
    t.string('source_key', 512).notNullable().unique();
    t.string('mailbox', 255);
    t.bigInteger('uidvalidity');
    t.bigInteger('uid');
    t.string('message_id', 998);
    t.string('content_hash', 64).notNullable();
    t.string('outcome', 16).notNullable(); // accepted | ignored | rejected
    t.string('effect', 32); // new_case | follow_up | system_note | ...
    t.string('reason', 64);
    t.integer('ticket_id');
    t.integer('message_row_id');
    t.integer('quarantine_id');
    t.bigInteger('created_at').notNullable();
    t.index(['content_hash']);
    t.index(['message_id']);
  });

  /** One row per content hash that had an effect: the unique key that keeps two deliveries from both acting. */
  await knex.schema.createTable('ingest_effects', (t) => {
    t.string('content_hash', 64).primary();
    t.string('source_key', 512).notNullable();
  });

  await knex.schema.createTable('quarantine', (t) => {
    t.increments('id').primary();
    t.string('raw_sha256', 64).notNullable();
    t.bigInteger('size').notNullable();
    t.string('source_key', 512).notNullable();
    t.string('mailbox', 255);
    t.string('reason', 64).notNullable();
    t.text('detail');
    t.string('from_address', 320);
    t.text('subject');
    t.string('message_id', 998);
    t.string('state', 16).notNullable().defaultTo('held'); // held | replayed
    t.text('replay_result');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('replayed_at');
    t.index(['state']);
  });

  await knex.schema.createTable('mailbox_state', (t) => {
    t.string('name', 255).primary(); // e.g. support:INBOX
    t.bigInteger('uidvalidity');
    t.bigInteger('last_uid').notNullable().defaultTo(0);
    t.bigInteger('last_poll_at');
    t.bigInteger('last_success_at');
    t.text('last_error');
    t.integer('error_count').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'mailbox_state',
    'quarantine',
    'ingest_effects',
    'ingest_ledger',
    'events',
    'attachments',
    'thread_ids',
    'messages',
    'participants',
    'tickets',
    'counters',
  ]) {
    await knex.schema.dropTableIfExists(table);
  }
}
