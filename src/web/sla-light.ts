import type { App } from '../app.ts';
import { eventsOf } from '../db/repos/tickets.ts';
import { expiringCache } from '../memo.ts';
import { slaState, type Light } from '../tickets/sla.ts';
import type { Ticket } from '../tickets/types.ts';

/**
 * The traffic light shown on the status page, from the lifecycle's SLA clocks (src/tickets/sla.ts) over the
 * case's own event log and its organization's business calendar.
 */
export function slaLight(app: App, clock: () => number = Date.now): (ticket: Ticket) => Promise<Light | undefined> {
  const policy = app.policy;
  const cached = expiringCache<Light | undefined>(5000, LIGHT_TTL_MS, clock);
  // Kept for a minute per version of the case (its stage, its first answer, its last change): walking the business
  // calendar was the page's most expensive work, and a light moves on a scale of hours.
  return async (t) => {
    return cached(`${t.id}:${t.updatedAt}:${t.stage}:${t.firstResponseAt ?? ''}`, async () => {
      const events = (await eventsOf(app.db, t.id)).map((e: any) => ({
        type: String(e.type),
        to: e.to_value ?? null,
        at: Number(e.created_at),
      }));
      const c = { priority: t.priority, createdAt: t.createdAt, firstResponseAt: t.firstResponseAt, stage: t.stage };
      return slaState(policy.calendarFor(t.organization), policy.sla, c, events, clock()).light;
    });
  };
}

/** How long a case's light may be shown after it was computed. */
export const LIGHT_TTL_MS = 60_000;
