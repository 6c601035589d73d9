import type { BusinessCalendar, Interval } from './calendar.ts';
import type { Priority, Stage, WaitingOn } from './types.ts';

/**
 * Service levels: per priority, a target for the first answer and one for the resolution, both in business time.
 * The clocks run only while the case waits on support (not while it waits on the customer or a third party, nor
 * while it is closed); when they ran is derived from the case's event log, which is the single record of who the
 * case waited on and when. Pure.
 */

export type BusinessDuration = { unit: 'hours' | 'days'; amount: number };

export interface SlaTargets {
  firstResponse: BusinessDuration;
  resolution: BusinessDuration;
}

/** The guides' defaults: alta 2 h / 1 business day, media 8 h / 3 business days, baja 2 / 10 business days. */
export const DEFAULT_TARGETS: Readonly<Record<Priority, SlaTargets>> = {
  alta: { firstResponse: { unit: 'hours', amount: 2 }, resolution: { unit: 'days', amount: 1 } },
  media: { firstResponse: { unit: 'hours', amount: 8 }, resolution: { unit: 'days', amount: 3 } },
  baja: { firstResponse: { unit: 'days', amount: 2 }, resolution: { unit: 'days', amount: 10 } },
};

/** "2h", "4 h", "1d", "3 días", "10 bd": a business duration. */
export function parseDuration(text: string): BusinessDuration | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(h|hr|hrs|horas?|hours?|bh|d|bd|d[ií]as?|days?)\s*$/i.exec(text);
  if (!m) return undefined;
  const amount = Number(m[1]);
  if (!(amount > 0)) return undefined;
  return { unit: /^(h|hr|hrs|horas?|hours?|bh)$/i.test(m[2]) ? 'hours' : 'days', amount };
}

export function formatDuration(d: BusinessDuration): string {
  return d.unit === 'hours' ? `${d.amount} h hábiles` : `${d.amount} ${d.amount === 1 ? 'día hábil' : 'días hábiles'}`;
}

export type Light = 'green' | 'yellow' | 'red';
export const LIGHT_ORDER: Readonly<Record<Light, number>> = { red: 0, yellow: 1, green: 2 };
export const LIGHT_LABEL: Readonly<Record<Light, string>> = { green: 'verde', yellow: 'amarillo', red: 'rojo' };

/** The part of the event log the clocks need: stage and waiting changes, in order. */
export interface ClockEvent {
  type: string;
  to?: string | null;
  at: number;
}

export interface SlaCase {
  priority: Priority;
  createdAt: number;
  firstResponseAt?: number;
  stage: Stage;
}

export interface ClockState {
  budgetMs: number;
  elapsedMs: number;
  /** Share of the budget used, 0…∞. */
  share: number;
  light: Light;
  running: boolean;
  /** When the clock stopped for good (first answer given, case closed); undefined while it can still run. */
  stoppedAt?: number;
  /** When the light turns (turned) yellow / red; undefined when it will not while paused or stopped. */
  yellowAt?: number;
  dueAt?: number;
}

export interface SlaState {
  light: Light;
  firstResponse: ClockState;
  resolution: ClockState;
}

export interface SlaPolicy {
  targets: Readonly<Record<Priority, SlaTargets>>;
  /** Share of a target after which the light is yellow, e.g. 0.75. */
  warnShare: number;
}

/**
 * Intervals, up to `until`, during which the case waited on support and was not closed. The case starts open and
 * waiting on support; `waiting_changed` and `stage_changed` events move it.
 */
export function runningIntervals(createdAt: number, events: readonly ClockEvent[], until: number): Interval[] {
  let waiting: WaitingOn = 'soporte';
  let stage: string = 'abierto';
  let runningSince: number | undefined = createdAt;
  const out: Interval[] = [];
  const sorted = [...events].filter((e) => e.at <= until).sort((a, b) => a.at - b.at);
  for (const e of sorted) {
    if (e.type === 'waiting_changed' && e.to) waiting = e.to as WaitingOn;
    else if (e.type === 'stage_changed' && e.to) stage = e.to;
    else continue;
    const runs = waiting === 'soporte' && stage !== 'cerrado';
    const at = Math.max(e.at, createdAt);
    if (runs && runningSince === undefined) runningSince = at;
    if (!runs && runningSince !== undefined) {
      if (at > runningSince) out.push({ start: runningSince, end: at });
      runningSince = undefined;
    }
  }
  if (runningSince !== undefined && until > runningSince) out.push({ start: runningSince, end: until });
  return out;
}

/** The business length of a target counted from `start` (days depend on where they start: a Saturday is short). */
export function budgetMs(cal: BusinessCalendar, start: number, d: BusinessDuration): number {
  if (d.unit === 'hours') return Math.round(d.amount * 3_600_000);
  const from = cal.nextBusinessMoment(start);
  return cal.businessMsBetween(from, cal.addBusinessDays(from, d.amount));
}

function lightOf(share: number, warnShare: number): Light {
  if (share >= 1) return 'red';
  if (share >= warnShare) return 'yellow';
  return 'green';
}

/** Where, along the running intervals, `target` business ms are reached; beyond them, from `now` if still running. */
function reachAt(
  cal: BusinessCalendar,
  intervals: readonly Interval[],
  target: number,
  running: boolean,
  now: number,
): number | undefined {
  let acc = 0;
  for (const i of intervals) {
    const b = cal.businessMsBetween(i.start, i.end);
    if (acc + b >= target && b > 0) return cal.addBusinessMs(i.start, target - acc);
    acc += b;
  }
  if (target === 0 && intervals.length) return cal.nextBusinessMoment(intervals[0].start);
  return running ? cal.addBusinessMs(now, target - acc) : undefined;
}

function clock(
  cal: BusinessCalendar,
  intervals: Interval[],
  budget: number,
  stopAt: number | undefined,
  now: number,
  warnShare: number,
): ClockState {
  const until = Math.min(stopAt ?? now, now);
  const clipped = intervals
    .map((i) => ({ start: i.start, end: Math.min(i.end, until) }))
    .filter((i) => i.end > i.start);
  const elapsedMs = clipped.reduce((s, i) => s + cal.businessMsBetween(i.start, i.end), 0);
  const last = intervals[intervals.length - 1];
  const running = stopAt === undefined && last !== undefined && last.end >= now;
  const share = budget > 0 ? elapsedMs / budget : 1;
  return {
    budgetMs: budget,
    elapsedMs,
    share,
    light: lightOf(share, warnShare),
    running,
    stoppedAt: stopAt,
    yellowAt: reachAt(cal, clipped, Math.ceil(budget * warnShare), running, now),
    dueAt: reachAt(cal, clipped, budget, running, now),
  };
}

/** The SLA state of a case as of `now`: both clocks and the case's light (the worse of the clocks still running). */
export function slaState(
  cal: BusinessCalendar,
  policy: SlaPolicy,
  c: SlaCase,
  events: readonly ClockEvent[],
  now: number,
): SlaState {
  const targets = policy.targets[c.priority];
  const intervals = runningIntervals(c.createdAt, events, now);
  const closedAt = c.stage === 'cerrado' ? (lastCloseAt(events) ?? now) : undefined;
  const first = clock(
    cal,
    intervals,
    budgetMs(cal, c.createdAt, targets.firstResponse),
    c.firstResponseAt ?? closedAt,
    now,
    policy.warnShare,
  );
  const resolution = clock(
    cal,
    intervals,
    budgetMs(cal, c.createdAt, targets.resolution),
    closedAt,
    now,
    policy.warnShare,
  );
  // An answered case is judged by its resolution clock; an unanswered one by whichever is worse.
  const candidates = c.firstResponseAt === undefined ? [first.light, resolution.light] : [resolution.light];
  const light = candidates.sort((a, b) => LIGHT_ORDER[a] - LIGHT_ORDER[b])[0];
  return { light, firstResponse: first, resolution };
}

function lastCloseAt(events: readonly ClockEvent[]): number | undefined {
  let at: number | undefined;
  for (const e of events) if (e.type === 'stage_changed' && e.to === 'cerrado') at = e.at;
  return at;
}

/** Cases ordered for a consultant's attention: red first, then yellow, then green; earliest due first within each. */
export function byUrgency<T extends { sla: SlaState; number: number }>(a: T, b: T): number {
  return (
    LIGHT_ORDER[a.sla.light] - LIGHT_ORDER[b.sla.light] ||
    (a.sla.resolution.dueAt ?? Infinity) - (b.sla.resolution.dueAt ?? Infinity) ||
    a.number - b.number
  );
}
