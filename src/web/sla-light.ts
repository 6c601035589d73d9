import type { App } from '../app.ts';
import { CaseLights } from '../services/case-lights.ts';
import type { Light } from '../tickets/sla.ts';
import type { Ticket } from '../tickets/types.ts';

/** The traffic light shown on the case page: the lists' (src/services/case-lights.ts), one case at a time. */
export function slaLight(app: App, clock: () => number = Date.now): (ticket: Ticket) => Promise<Light | undefined> {
  const lights = new CaseLights({ db: app.db, policy: app.policy });
  return async (t) => (await lights.of([t], clock())).get(t.id);
}
