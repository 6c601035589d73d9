import type { Knex } from 'knex';

/**
 * Where each mailbox read through Microsoft Graph resumes its delta query on the folder (issue 26): the
 * @odata.deltaLink of the last finished pass, or the @odata.nextLink of the page after the last one recorded while a
 * pass is under way. `name` is mailbox_state's (`support:inbox`). Losing a row only costs a full pass: the ledger,
 * keyed by Graph's immutable ids, keeps every mail's effect single.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('graph_delta', (t) => {
    t.string('name', 255).primary();
    t.text('link').notNullable();
    /** `delta` (a finished pass) or `next` (a pass under way). */
    t.string('kind', 16).notNullable();
    t.bigInteger('updated_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('graph_delta');
}
