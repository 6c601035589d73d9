import type { UnitOfWork } from '../db/unit-of-work.ts';
import { insertEvent, updateTicket } from '../db/repos/tickets.ts';
import type { Logger } from '../logger.ts';
import type { Ticket } from '../tickets/types.ts';
import type { PortalDeps, Verdict } from './portal-types.ts';
import { cutText } from '../text-cut.ts';

/**
 * The rating is recorded on the case and in its event log. VoBo closes a case in `pruebas`; "insatisfactoria"
 * reopens it (from `pruebas` or closed) and adds the comment to the conversation as the customer's message, so
 * the consultants are told through the same notifier as for a mail. Both stage changes go through the state
 * machine (CaseService.changeStage), never around it.
 */
export async function applyRating(
  deps: PortalDeps,
  log: Logger,
  trx: UnitOfWork,
  p: { ticket: Ticket; verdict: Verdict; comment: string; actor: string; now: number },
): Promise<void> {
  const { cases, config } = deps;
  const { ticket, verdict, comment, actor, now } = p;
  let current = ticket;
  if (verdict === 'satisfactoria') {
    if (current.stage === 'pruebas')
      current = await cases.changeStage(
        trx,
        current,
        'cerrar',
        actor,
        'visto bueno del cliente (solución satisfactoria)',
        now,
      );
  } else {
    current = await cases.changeStage(trx, current, 'reabrir', actor, 'solución insatisfactoria', now);
    await cases.addMessage(trx, current, {
      message: {
        role: 'customer',
        source: 'web',
        fromAddress: actor,
        fromName: actor === current.requester ? current.requesterName : undefined,
        bodyText: comment,
        fullText: comment,
        subject: `[Caso #${current.number}] ${current.subject}`,
        internal: false,
        verified: true,
        createdAt: now,
        attachments: [],
        to: [config.supportAddress],
      },
      cc: [],
      threadIds: [],
      reopen: false,
    });
  }
  await updateTicket(trx, ticket.id, { rating: verdict, rating_comment: comment || null, updated_at: now });
  await insertEvent(trx, {
    ticketId: ticket.id,
    type: 'rated',
    actor,
    to: verdict,
    reason: comment ? cutText(comment, 1000) : undefined,
    at: now,
    data: { source: 'web' },
  });
  log.info({ ticket: ticket.number, verdict }, 'calificación desde la página del caso');
}
