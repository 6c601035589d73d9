import type { UnitOfWork } from '../db/unit-of-work.ts';
import type { Config } from '../config.ts';
import { insertEvent } from '../db/repos/tickets.ts';
import type { Logger } from '../logger.ts';
import type { BounceInfo } from '../services/case-events.ts';
import type { Ticket } from '../tickets/types.ts';
import type { Outbox } from './outbox.ts';

const DAY = 86_400_000;

/**
 * What a hard bounce of our mail does, inside the transaction that files it on the case.
 * - An address the bounce names without proving we sent it the returned mail (`unproven`) gets nothing but a
 *   record on the case: a forged report must not silence anyone.
 * - A proven address of the desk (a consultant, the support or fallback address) is never stopped: the desk must
 *   keep hearing about cases. Its failing mailbox is an alert instead, recorded on the case, logged, and mailed to
 *   the other consultants (limited per consultant and hour, DESK_ALERTS_PER_HOUR).
 * - A proven customer address is stopped only when the address itself is gone (user or domain unknown). Any other
 *   permanent failure (a full mailbox, a policy refusal: 5.2.2, 5.7.1, or a bounce that does not say) failed that
 *   message, but the customer may well still read mail there: it is recorded, and the next mail is tried.
 */
export async function applyHardBounce(
  deps: { config: Config; outbox: Outbox; log: Logger; desk: (t: Ticket) => readonly string[] },
  uow: UnitOfWork,
  t: Ticket,
  bounce: BounceInfo,
  messageRowId: number,
  now: number,
): Promise<void> {
  const { config, outbox, log } = deps;
  const { status } = bounce;
  const what = `rebote permanente${status ? ` ${status}` : ''}`;
  for (const address of bounce.unproven.slice(0, 20)) {
    await insertEvent(uow, {
      ticketId: t.id,
      type: 'bounce_unproven',
      actor: 'mesa',
      to: address,
      at: now,
      reason: `${what}: el rebote no devuelve un correo que le enviamos a esta dirección; no se detiene nada`,
    });
  }
  if (bounce.unproven.length)
    log.warn(
      { ticket: t.number, claimed: bounce.unproven.length },
      'rebote sin prueba: se anota en el caso, no se detiene ningún correo',
    );

  const desk = new Set([config.supportAddress, config.fallbackAddress, ...config.consultants, ...deps.desk(t)]);
  const days = config.outbound.bounceSuppressDays;
  for (const address of bounce.recipients) {
    if (desk.has(address)) {
      await insertEvent(uow, {
        ticketId: t.id,
        type: 'desk_address_bounced',
        actor: 'mesa',
        to: address,
        at: now,
        reason: `${what}: una dirección del equipo de soporte no recibe correo; nunca se detiene, revise ese buzón`,
      });
      log.error({ ticket: t.number, status }, 'rebote permanente de una dirección del equipo de soporte');
      for (const to of config.consultants.filter((c) => c !== address)) {
        await outbox.enqueue(uow, {
          key: `case:${t.id}:msg:${messageRowId}:bounce-alert:${address}:${to}`,
          ticket: t,
          kind: 'alert_bounce',
          to,
          automatic: true,
          budgeted: false,
          alert: true,
          autoSubmitted: 'auto-generated',
          template: 'consultant-notice',
          now,
          pick: { heading: 'headingBounce', intro: 'introBounce', next: 'nextBounce', preview: 'previewBounce' },
          data: { items: [`${address}${status ? ` (${status})` : ''}`], commands: false },
        });
      }
      continue;
    }
    if (!bounce.addressGone) {
      await insertEvent(uow, {
        ticketId: t.id,
        type: 'mail_undelivered',
        actor: 'mesa',
        to: address,
        reason:
          `${what}: no dice que la dirección no exista (buzón lleno, rechazo por política…); ` +
          'el correo automático sigue',
        at: now,
      });
      log.warn(
        { ticket: t.number, status },
        'correo no entregado, sin señal de que la dirección no exista: el correo automático sigue',
      );
      continue;
    }
    await outbox.suppress(uow, {
      address,
      reason: `rebote ${status ?? 'permanente'}`,
      ticketId: t.id,
      until: now + days * DAY,
      now,
    });
    await insertEvent(uow, {
      ticketId: t.id,
      type: 'address_suppressed',
      actor: 'mesa',
      to: address,
      reason: `${what}: sin correo automático por ${days} días`,
      at: now,
    });
    log.warn({ ticket: t.number, status }, 'dirección rebotada: se detiene el correo automático');
  }
}
