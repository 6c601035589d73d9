import type { Db } from '../db/knex.ts';
import { clockEventsOf } from '../db/repos/case-list.ts';
import type { Policy } from '../policy/policy.ts';
import { slaState, type Light } from '../tickets/sla.ts';
import type { Ticket } from '../tickets/types.ts';

/** How long a case's light may be shown after it was computed. */
export const LIGHT_TTL_MS = 60_000;
/** Versions of cases whose light is kept: the oldest goes first. */
const LIGHTS_KEPT = 5000;

/**
 * The SLA light that the case page and the lists show, from the lifecycle's clocks (src/tickets/sla.ts) over each
 * case's event log and its organization's business calendar. Kept for a minute per version of the case (its stage,
 * its first answer, its last change): walking the business calendar was the pages' most expensive work, and a light
 * moves on a scale of hours. The events of every case not kept are read in one query.
 */
export class CaseLights {
  private readonly kept = new Map<string, { at: number; light: Light }>();

  constructor(private readonly deps: { db: Db; policy: Policy }) {}

  async of(tickets: readonly Ticket[], now: number): Promise<Map<number, Light>> {
    const known = new Map<number, Light>();
    const missing: Ticket[] = [];
    for (const t of tickets) {
      const hit = this.kept.get(versionOf(t));
      if (hit && now - hit.at < LIGHT_TTL_MS) known.set(t.id, hit.light);
      else missing.push(t);
    }
    if (!missing.length) return known;
    const { db, policy } = this.deps;
    const events = await clockEventsOf(
      db,
      missing.map((t) => t.id),
    );
    for (const t of missing) {
      const c = { priority: t.priority, createdAt: t.createdAt, firstResponseAt: t.firstResponseAt, stage: t.stage };
      const light = slaState(policy.calendarFor(t.organization), policy.sla, c, events.get(t.id) ?? [], now).light;
      known.set(t.id, light);
      if (this.kept.size >= LIGHTS_KEPT) this.kept.delete(this.kept.keys().next().value!);
      this.kept.set(versionOf(t), { at: now, light });
    }
    return known;
  }
}

const versionOf = (t: Ticket) => `${t.id}:${t.updatedAt}:${t.stage}:${t.firstResponseAt ?? ''}`;
