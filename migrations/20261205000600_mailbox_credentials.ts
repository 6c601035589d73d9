import type { Knex } from 'knex';

/**
 * OAuth2 tokens of each mailbox (support, fallback), encrypted with a key derived from SECRET_KEY
 * (src/mailboxes/token-cipher.ts), and the credential's state: ok, needs_login, needs_reauth, error. `version` grows
 * with every new token; `refresh_claim`/`claim_until` let exactly one instance refresh at a time (src/mailboxes/).
 * Times are epoch ms.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('mailbox_credentials', (t) => {
    t.string('mailbox', 64).primary();
    t.string('kind', 32).notNullable();
    t.string('provider', 32).notNullable();
    t.text('access_token');
    t.text('refresh_token');
    t.bigInteger('issued_at');
    t.bigInteger('expires_at');
    t.text('scope');
    t.string('state', 32).notNullable();
    t.string('last_error_code', 200);
    t.text('last_error');
    t.integer('failures').notNullable().defaultTo(0);
    t.bigInteger('next_attempt_at');
    t.string('refresh_claim', 255);
    t.bigInteger('claim_until');
    t.bigInteger('alerted_at');
    t.integer('version').notNullable().defaultTo(0);
    t.bigInteger('updated_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('mailbox_credentials');
}
