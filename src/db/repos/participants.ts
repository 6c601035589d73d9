import { insertLater, rows, run, type Queryable } from '../sql.ts';
import type { Participant, ParticipantOrigin } from '../../tickets/types.ts';
import { caseWritten } from './threads-ahead.ts';

/** The people of a case: who they are, how they came onto it. */

/** The case's people in the order they were added (the requester first): fan-out caps keep the earliest. */
export async function participantsOf(db: Queryable, ticketId: number): Promise<Participant[]> {
  // People added earlier in the same batch (addParticipants) may still wait: written first if they are this case's.
  const found = await rows(
    db,
    'select "address", "role", "added_by" from "participants" where "ticket_id" = ? ' +
      'order by "added_at", case when "role" = \'requester\' then 0 else 1 end, "address"',
    [ticketId],
    { participants: (v) => v('ticket_id') === ticketId },
  );
  return found.map((r: any) => ({ address: r.address, role: r.role, addedBy: r.added_by ?? 'unproven' }));
}

/** For `mesa participants`: each person with how and when they were added. */
export async function participantRecords(
  db: Queryable,
  ticketId: number,
): Promise<Array<Participant & { addedAt: number }>> {
  const found = await rows(
    db,
    'select "address", "role", "added_by", "added_at" from "participants" ' +
      'where "ticket_id" = ? order by "added_at", "address"',
    [ticketId],
    { participants: (v) => v('ticket_id') === ticketId },
  );
  return found.map((r: any) => ({
    address: r.address,
    role: r.role,
    addedBy: r.added_by ?? 'unproven',
    addedAt: Number(r.added_at),
  }));
}

/** Takes a Cc'd person off the case; the requester and consultants are not removed this way. Returns whether one
 * was. */
export async function deleteCcParticipant(queryable: Queryable, ticketId: number, address: string): Promise<boolean> {
  caseWritten(queryable, ticketId);
  const sql = 'delete from "participants" where "ticket_id" = ? and "address" = ? and "role" = ?';
  return (await run(queryable, sql, [ticketId, address, 'cc'])) > 0;
}

const PARTICIPANT_COLUMNS = ['ticket_id', 'address', 'role', 'added_by', 'added_at'];
const DEFAULT_ORIGIN: Record<Participant['role'], ParticipantOrigin> = {
  requester: 'requester',
  consultant: 'assigned',
  cc: 'unproven',
};

/** Adds the people not on the case yet; returns those added. `newCase`: the case was inserted in this transaction and
 * has nobody yet, so the read of its participants is skipped. In the ingest's batch the rows are written with the
 * batch's others (insertLater); the unit writes them before a statement on participants runs. */
export async function addParticipants(
  trx: Queryable,
  ticketId: number,
  people: readonly Participant[],
  now: number,
  opts: { newCase?: boolean } = {},
): Promise<Participant[]> {
  if (!people.length) return [];
  const seen = new Set(opts.newCase ? [] : (await participantsOf(trx, ticketId)).map((p) => p.address));
  const fresh = people.filter((p) => !seen.has(p.address) && seen.add(p.address));
  if (fresh.length) caseWritten(trx, ticketId);
  await insertLater(
    trx,
    'participants',
    PARTICIPANT_COLUMNS,
    fresh.map((p) => [ticketId, p.address, p.role, p.addedBy ?? DEFAULT_ORIGIN[p.role], now]),
  );
  return fresh;
}
