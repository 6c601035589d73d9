import type { Knex } from 'knex';

/**
 * How each person came to be on a case (`participants.added_by`): `requester` (who opened it), `opening` (To/Cc of
 * the mail that opened it), `signed_reply` (Cc of a reply to a mail we sent that address), `dmarc` (Cc of a mail
 * whose From domain passed DMARC at our receiving server), `consultant` (a consultant's `/cc +` command),
 * `assigned` (a consultant assigned to the case). "Perdí mi enlace" mails only these. Rows from before this column
 * are classified by what can still be told: the requester and consultants by role, a Cc added when the case was
 * created by the opening mail; any other Cc came from a follow-up nobody checked and is `unproven`.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('participants', (t) => {
    t.string('added_by', 24);
  });
  await knex('participants').where({ role: 'requester' }).update({ added_by: 'requester' });
  await knex('participants').where({ role: 'consultant' }).update({ added_by: 'assigned' });
  await knex('participants')
    .where({ role: 'cc' })
    .whereIn(
      'ticket_id',
      knex('tickets')
        .select('id')
        .whereRaw('"tickets"."id" = "participants"."ticket_id" and "tickets"."created_at" = "participants"."added_at"'),
    )
    .update({ added_by: 'opening' });
  await knex('participants').whereNull('added_by').update({ added_by: 'unproven' });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('participants', (t) => {
    t.dropColumn('added_by');
  });
}
