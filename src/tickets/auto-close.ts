import type { BusinessCalendar } from './calendar.ts';
import type { Stage, WaitingOn } from './types.ts';

/**
 * Auto-close of cases left waiting on the customer (the guides: "más de 2 días hábiles sin respuesta del cliente
 * se cierra"): a warning one business day before, then the closing. Pure: it reads the case's event log and says
 * what is due as of `now`; the job does it. A customer reply moves the case back to waiting on support, which
 * cancels the plan; a new answer from support starts the wait again.
 */

export interface AutoClosePolicy {
  /** Business days waiting on the customer after which the case closes (0 = never auto-close). */
  afterBusinessDays: number;
  /** Business days before the closing that the warning goes out. */
  warnBeforeBusinessDays: number;
}

export const DEFAULT_AUTO_CLOSE: AutoClosePolicy = { afterBusinessDays: 2, warnBeforeBusinessDays: 1 };

export interface AutoCloseEvent {
  type: string;
  to?: string | null;
  at: number;
  internal?: boolean;
}

export type AutoCloseAction =
  | { kind: 'none' }
  | { kind: 'wait'; waitingSince: number; warnAt: number; closeAt: number }
  | { kind: 'warn'; waitingSince: number; closeAt: number }
  | { kind: 'close'; waitingSince: number; warnedAt: number };

/** Since when the case has waited on the customer: the last move to `cliente`, or support's last public answer. */
export function waitingSince(events: readonly AutoCloseEvent[]): number | undefined {
  let since: number | undefined;
  let waiting: string = 'soporte';
  for (const e of [...events].sort((a, b) => a.at - b.at)) {
    if (e.type === 'waiting_changed' && e.to) {
      waiting = e.to;
      since = waiting === 'cliente' ? e.at : undefined;
    } else if (e.type === 'consultant_message' && !e.internal && waiting === 'cliente') {
      since = e.at;
    } else if (e.type === 'stage_changed' && e.to === 'reabierto') {
      since = waiting === 'cliente' ? e.at : since;
    }
  }
  return waiting === 'cliente' ? since : undefined;
}

export function planAutoClose(
  cal: BusinessCalendar,
  policy: AutoClosePolicy,
  c: { stage: Stage; waitingOn: WaitingOn; updatedAt: number },
  events: readonly AutoCloseEvent[],
  now: number,
): AutoCloseAction {
  if (policy.afterBusinessDays <= 0 || c.stage === 'cerrado' || c.waitingOn !== 'cliente') return { kind: 'none' };
  const since = waitingSince(events) ?? c.updatedAt;
  const warnBefore = Math.min(policy.warnBeforeBusinessDays, policy.afterBusinessDays);
  const warnAt = cal.addBusinessDays(since, policy.afterBusinessDays - warnBefore);
  const closeAt = cal.addBusinessDays(since, policy.afterBusinessDays);
  const warned = [...events].reverse().find((e) => e.type === 'autoclose_warning' && e.at >= since);
  if (!warned)
    return now >= warnAt
      ? { kind: 'warn', waitingSince: since, closeAt: Math.max(closeAt, cal.addBusinessDays(now, warnBefore)) }
      : { kind: 'wait', waitingSince: since, warnAt, closeAt };
  // The customer always gets the full notice, even when the jobs did not run on time.
  const due = Math.max(closeAt, cal.addBusinessDays(warned.at, warnBefore));
  return now >= due
    ? { kind: 'close', waitingSince: since, warnedAt: warned.at }
    : { kind: 'wait', waitingSince: since, warnAt, closeAt: due };
}
