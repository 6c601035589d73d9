import type { Knex } from 'knex';
import { inUnitOfWork, type UnitOfWork } from '../db/unit-of-work.ts';
import type { Db } from '../db/knex.ts';
import * as repo from '../db/repos/tickets.ts';
import { MesaError } from '../errors.ts';
import { revokeRecipientLinks } from '../links/links.ts';
import type { Participant, ParticipantOrigin, Ticket } from '../tickets/types.ts';

/**
 * Who is on a case, and how many. Every address on a case gets the consultants' answers and a link to the whole
 * case, so one mail must not be able to put thousands of people on it (MAX_PARTICIPANTS_PER_MAIL), a case must not
 * grow without end (MAX_PARTICIPANTS_PER_CASE, the requester included), and one answer must not fan out to more
 * than MAX_RECIPIENTS_PER_ANSWER. What a cap leaves out is recorded on the case (event `participants_capped`) and
 * the consultants' notice of that mail says so.
 */
export interface ParticipantLimits {
  perMail: number;
  perCase: number;
}

export type CapLimit = 'per_mail' | 'per_case';

export interface CapResult {
  kept: string[];
  dropped: string[];
  limit?: CapLimit;
  max?: number;
}

/** What the consultants' notice says about addresses a mail could not add. */
export type CappedNotice = { dropped: number; limit: CapLimit; max: number };

/**
 * Pure. `wanted`: the addresses a mail names, in its order; `onCase`: the customer-side people already on the case
 * (requester and Cc). The earliest addresses are kept, as many as both caps allow.
 */
export function capNewParticipants(
  wanted: readonly string[],
  onCase: ReadonlySet<string>,
  limits: ParticipantLimits,
): CapResult {
  const fresh = [...new Set(wanted)].filter((a) => !onCase.has(a));
  const room = Math.max(0, limits.perCase - onCase.size);
  const n = Math.min(limits.perMail, room);
  const kept = fresh.slice(0, n);
  const dropped = fresh.slice(n);
  if (!dropped.length) return { kept, dropped };
  const limit: CapLimit = limits.perMail <= room ? 'per_mail' : 'per_case';
  return { kept, dropped, limit, max: limit === 'per_mail' ? limits.perMail : limits.perCase };
}

/** The customer-side addresses on a case (requester and Cc): what the per-case cap counts. */
export function customerSide(people: readonly Participant[]): Set<string> {
  return new Set(people.filter((p) => p.role !== 'consultant').map((p) => p.address));
}

/**
 * Adds what the caps allow of `wanted`, each recorded with how it came (`origin`); records the excess on the case.
 * Returns what the consultants should be told, if anything was left out.
 */
export async function addCapped(
  uow: UnitOfWork,
  ticket: Ticket,
  wanted: readonly string[],
  origin: ParticipantOrigin,
  limits: ParticipantLimits,
  actor: string | undefined,
  now: number,
  opts: { newCase?: boolean; onCase?: ReadonlySet<string> } = {},
): Promise<CappedNotice | undefined> {
  if (!wanted.length) return undefined;
  const onCase = opts.onCase ?? customerSide(await repo.participantsOf(uow, ticket.id));
  const cap = capNewParticipants(wanted, onCase, limits);
  await repo.addParticipants(
    uow,
    ticket.id,
    cap.kept.map((address) => ({ address, role: 'cc' as const, addedBy: origin })),
    now,
    { newCase: opts.newCase },
  );
  if (!cap.limit) return undefined;
  const sample = cap.dropped.slice(0, 10).join(', ');
  await repo.insertEvent(uow, {
    ticketId: ticket.id,
    type: 'participants_capped',
    actor,
    at: now,
    reason:
      `${cap.dropped.length} direcciones no se agregaron al caso ` +
      `(límite de ${cap.max} ${cap.limit === 'per_mail' ? 'por correo' : 'por caso'}): ` +
      `${sample}${cap.dropped.length > 10 ? '…' : ''}`,
    data: { dropped: cap.dropped.length, limit: cap.limit, max: cap.max, sample: cap.dropped.slice(0, 50) },
  });
  return { dropped: cap.dropped.length, limit: cap.limit, max: cap.max! };
}

/**
 * Takes a Cc'd person off a case (a consultant's `/cc -`, `mesa participants --remove`): their row goes, their
 * links stop working, and the case file records who did it. The requester and consultants are refused.
 */
export async function removeParticipant(
  uow: UnitOfWork,
  ticket: Ticket,
  address: string,
  actor: string,
  now: number,
): Promise<void> {
  const who = address.trim().toLowerCase();
  if (who === ticket.requester)
    throw new MesaError('PARTICIPANT_REFUSED', `${who} es quien abrió el caso #${ticket.number}`);
  if (!(await repo.deleteCcParticipant(uow, ticket.id, who))) {
    const onCase = (await repo.participantsOf(uow, ticket.id)).find((p) => p.address === who);
    throw new MesaError(
      'PARTICIPANT_REFUSED',
      onCase
        ? `${who} es consultor del caso #${ticket.number} (use /asignar)`
        : `${who} no está en el caso #${ticket.number}`,
    );
  }
  const revoked = await revokeRecipientLinks(uow, ticket.id, who, now, 'quitado del caso');
  await repo.insertEvent(uow, {
    ticketId: ticket.id,
    type: 'participant_removed',
    actor,
    to: who,
    at: now,
    data: { linksRevoked: revoked },
  });
}

/** For `mesa participants N`: who is on the case, how and when each was added. */
export async function listParticipants(
  db: Db,
  number: number,
): Promise<Array<{ address: string; role: string; addedBy: string; addedAt: string }>> {
  const t = await repo.findTicketByNumber(db, number);
  if (!t) throw new MesaError('TICKET_NOT_FOUND', `#${number}`);
  return (await repo.participantRecords(db, t.id)).map((p) => ({
    address: p.address,
    role: p.role,
    addedBy: p.addedBy ?? 'unproven',
    addedAt: new Date(p.addedAt).toISOString(),
  }));
}

/** For `mesa participants N --remove correo`: the same removal as a consultant's `/cc -`, in its own transaction. */
export async function removeFromCase(
  db: Knex,
  number: number,
  address: string,
  actor: string,
  now: number,
): Promise<void> {
  await inUnitOfWork(db, async (uow) => {
    const found = await repo.findTicketByNumber(uow, number);
    const t = found && (await repo.lockTicket(uow, found.id));
    if (!t) throw new MesaError('TICKET_NOT_FOUND', `#${number}`);
    await removeParticipant(uow, t, address, actor, now);
  });
}
