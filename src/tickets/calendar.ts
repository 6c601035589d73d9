import { createRequire } from 'node:module';
import type Holidays from 'date-holidays';
import { DateTime } from 'luxon';

/**
 * The business calendar: working hours per weekday in one IANA time zone, minus holidays. Every duration the
 * support guides speak of ("2 días hábiles", "4 horas hábiles") is measured on it. Pure: the holiday tables of
 * `date-holidays` ship inside the package, nothing is fetched.
 *
 * Local wall-clock times are turned into instants by luxon in the calendar's zone, so a working day that spans
 * a DST change is as long as the clocks say (a 01:00–04:00 window on the spring-forward night lasts two hours),
 * and "the next business day at 10:00" is 10:00 local whatever the UTC offset became over the weekend.
 */

/** ISO weekday, as luxon counts: 1 = Monday … 7 = Sunday. */
export type Weekday = 1 | 2 | 3 | 4 | 5 | 6 | 7;

/** "08:00-17:00": minutes since local midnight. */
export interface TimeRange {
  start: number;
  end: number;
}

export interface CalendarSpec {
  timezone: string;
  /** Working ranges per ISO weekday; a day absent or empty is not worked. */
  hours: Partial<Record<Weekday, readonly TimeRange[]>>;
  /** Extra non-working dates, `YYYY-MM-DD` in the calendar's zone. */
  holidays?: readonly string[];
  /** A country (optionally `CO-DC` style state) whose public holidays `date-holidays` knows. */
  holidayCountry?: string;
}

export const WEEKDAY_KEYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type WeekdayKey = (typeof WEEKDAY_KEYS)[number];

/** The guides' hours: Monday to Friday 08:00–17:00, Saturday 09:00–12:00. */
export const DEFAULT_HOURS: Readonly<Record<WeekdayKey, readonly string[]>> = {
  mon: ['08:00-17:00'],
  tue: ['08:00-17:00'],
  wed: ['08:00-17:00'],
  thu: ['08:00-17:00'],
  fri: ['08:00-17:00'],
  sat: ['09:00-12:00'],
  sun: [],
};

// «8:00-17:00» as well as «08:00-17:00»: both are how people write office hours.
const RANGE = /^([01]?\d|2[0-4]):([0-5]\d)\s*-\s*([01]?\d|2[0-4]):([0-5]\d)$/;

/** A holiday as the calendar takes it: `YYYY-MM-DD`, and a day that exists (not 2026-13-01 or 2026-02-30). */
export function isCalendarDate(text: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(text) && DateTime.fromISO(text).isValid;
}

/** Parses "08:00-17:00"; returns undefined when malformed or empty (end not after start). */
export function parseRange(text: string): TimeRange | undefined {
  const m = RANGE.exec(text.trim());
  if (!m) return undefined;
  const start = Number(m[1]) * 60 + Number(m[2]);
  const end = Number(m[3]) * 60 + Number(m[4]);
  if (start >= end || end > 24 * 60) return undefined;
  return { start, end };
}

export function hoursFromKeys(byKey: Partial<Record<WeekdayKey, readonly string[]>>): CalendarSpec['hours'] {
  const out: Partial<Record<Weekday, TimeRange[]>> = {};
  WEEKDAY_KEYS.forEach((key, i) => {
    const ranges = (byKey[key] ?? []).map((r) => {
      const parsed = parseRange(r);
      if (!parsed) throw new Error(`horario inválido para ${key}: "${r}" (se espera HH:MM-HH:MM)`);
      return parsed;
    });
    out[(i + 1) as Weekday] = ranges.sort((a, b) => a.start - b.start);
  });
  return out;
}

/** Half-open interval of epoch milliseconds. */
export interface Interval {
  start: number;
  end: number;
}

/** Far enough for any target, short enough that a calendar with no working hours fails fast instead of looping. */
const MAX_DAYS_SCANNED = 3 * 366;

/** Days a calendar keeps worked out: more than one walk of MAX_DAYS_SCANNED visits. */
const DAYS_KEPT = 4 * 366;

/** One local day of the calendar: its first instant, its working intervals, and the local date of the next day. */
interface CalendarDay {
  start: number;
  intervals: readonly Interval[];
  next: string;
}

// date-holidays builds its tables for every country on import, a cost `mesa start` would pay for nothing, so it
// is loaded (synchronously, through its CommonJS build) only by a calendar that names a holiday country.
const require = createRequire(import.meta.url);
let HolidaysClass: typeof Holidays | undefined;
function loadHolidays(): typeof Holidays {
  return (HolidaysClass ??= require('date-holidays') as typeof Holidays);
}

export class BusinessCalendar {
  readonly timezone: string;
  private readonly hours: Partial<Record<Weekday, readonly TimeRange[]>>;
  private readonly fixedHolidays: ReadonlySet<string>;
  private readonly countryHolidays?: Holidays;
  private readonly yearCache = new Map<number, Set<string>>();
  /** Each local day worked out so far, by its local date `YYYY-MM-DD` (see dayOn). */
  private readonly days = new Map<string, CalendarDay>();

  constructor(spec: CalendarSpec) {
    this.timezone = spec.timezone;
    this.hours = spec.hours;
    this.fixedHolidays = new Set(spec.holidays ?? []);
    if (spec.holidayCountry) {
      const [country, state] = spec.holidayCountry.toUpperCase().split('-');
      const h = new (loadHolidays())();
      if (!(country in h.getCountries())) throw new Error(`país de festivos desconocido: ${spec.holidayCountry}`);
      h.init(country, state);
      this.countryHolidays = h;
    }
    if (!DateTime.now().setZone(this.timezone).isValid) throw new Error(`zona horaria desconocida: ${this.timezone}`);
  }

  /** Is this local date (`YYYY-MM-DD`) a holiday? */
  isHoliday(isoDate: string): boolean {
    if (this.fixedHolidays.has(isoDate)) return true;
    if (!this.countryHolidays) return false;
    const year = Number(isoDate.slice(0, 4));
    let set = this.yearCache.get(year);
    if (!set) {
      // Only public (bank) holidays close the office; observances such as Easter Sunday are on non-working days anyway.
      set = new Set(
        this.countryHolidays
          .getHolidays(year)
          .filter((h) => h.type === 'public')
          .map((h) => h.date.slice(0, 10)),
      );
      this.yearCache.set(year, set);
    }
    return set.has(isoDate);
  }

  isBusinessDay(ms: number): boolean {
    return this.dayOf(ms).intervals.length > 0;
  }

  isBusinessTime(ms: number): boolean {
    return this.dayOf(ms).intervals.some((i) => ms >= i.start && ms < i.end);
  }

  /** Business milliseconds between two instants (0 when `to` is not after `from`). */
  businessMsBetween(from: number, to: number): number {
    if (to <= from) return 0;
    let total = 0;
    let day = this.dayOf(from);
    for (let n = 0; n <= MAX_DAYS_SCANNED * 10 && day.start < to; n++, day = this.dayOn(day.next)) {
      for (const i of day.intervals) total += Math.max(0, Math.min(i.end, to) - Math.max(i.start, from));
    }
    return total;
  }

  /** The instant at which `ms` business milliseconds have passed since `from`. `ms = 0` gives the next business
   * moment. */
  addBusinessMs(from: number, ms: number): number {
    let remaining = ms;
    let day = this.dayOf(from);
    for (let n = 0; n < MAX_DAYS_SCANNED; n++, day = this.dayOn(day.next)) {
      for (const i of day.intervals) {
        if (i.end <= from) continue;
        const start = Math.max(i.start, from);
        const available = i.end - start;
        // Strictly less for the zero case too: a deadline exactly at closing time stays on that day.
        if (remaining < available || (remaining === available && remaining > 0)) return start + remaining;
        remaining -= available;
      }
    }
    throw new Error(`el calendario no tiene horas hábiles en ${MAX_DAYS_SCANNED} días`);
  }

  addBusinessHours(from: number, hours: number): number {
    return this.addBusinessMs(from, Math.round(hours * 3_600_000));
  }

  /** The next business moment at or after `ms` (a mail filed on Sunday counts from Monday's opening). */
  nextBusinessMoment(ms: number): number {
    return this.addBusinessMs(ms, 0);
  }

  /**
   * "N días hábiles" after `from`: the same local time of day on the N-th business day after the one on which the
   * clock starts (a start outside hours moves to the next opening first). When that day closes earlier (a Saturday
   * half-day), the deadline is its closing time.
   */
  addBusinessDays(from: number, days: number): number {
    const start = this.nextBusinessMoment(from);
    if (days <= 0) return start;
    const startLocal = this.local(start);
    const minuteOfDay = startLocal.hour * 60 + startLocal.minute;
    const extraMs = startLocal.second * 1000 + startLocal.millisecond;
    let day = this.dayOf(start);
    let counted = 0;
    for (let n = 0; n < MAX_DAYS_SCANNED; n++) {
      day = this.dayOn(day.next);
      const intervals = day.intervals;
      if (!intervals.length) continue;
      if (++counted < days) continue;
      const target = this.at(this.local(day.start), minuteOfDay) + extraMs;
      const first = intervals[0];
      const last = intervals[intervals.length - 1];
      if (target <= first.start) return first.start;
      if (target >= last.end) return last.end;
      // Inside a break between two ranges (e.g. lunch): the next opening.
      return intervals.some((i) => target >= i.start && target < i.end)
        ? target
        : intervals.find((i) => i.start > target)!.start;
    }
    throw new Error(`el calendario no tiene días hábiles en ${MAX_DAYS_SCANNED} días`);
  }

  /** Local date `YYYY-MM-DD` of an instant in the calendar's zone. */
  localDate(ms: number): string {
    return this.local(ms).toISODate()!;
  }

  local(ms: number): DateTime {
    return DateTime.fromMillis(ms, { zone: this.timezone });
  }

  /** The local day that holds instant `ms`. */
  private dayOf(ms: number): CalendarDay {
    return this.dayOn(this.localDate(ms));
  }

  /**
   * The local day `date` (`YYYY-MM-DD`), worked out with luxon once and then read from `days`: every case's SLA and
   * auto-close clock walks the same few weeks of the calendar (the scheduled jobs, for every open case; `mesa
   * tickets`; each case page), and luxon's zone arithmetic for each day of each walk was most of their time. Keyed
   * by the date, so that finding an instant's day takes one conversion to local time. Bounded: cleared when it holds
   * more days than a walk of MAX_DAYS_SCANNED visits.
   */
  private dayOn(date: string): CalendarDay {
    let day = this.days.get(date);
    if (!day) {
      // Local midnight, or the first instant after it when DST skips midnight (luxon moves a skipped time forward).
      const local = DateTime.fromISO(date, { zone: this.timezone });
      const intervals = this.isHoliday(date)
        ? []
        : (this.hours[local.weekday as Weekday] ?? [])
            .map((r) => ({ start: this.at(local, r.start), end: this.at(local, r.end) }))
            .filter((i) => i.end > i.start);
      day = { start: local.toMillis(), intervals, next: local.plus({ days: 1 }).toISODate()! };
      if (this.days.size >= DAYS_KEPT) this.days.clear();
      this.days.set(date, day);
    }
    return day;
  }

  /** Local wall-clock minute of a day → instant. A wall time skipped by DST moves forward (luxon's rule). */
  private at(dayStart: DateTime, minute: number): number {
    if (minute >= 24 * 60) return dayStart.plus({ days: 1 }).startOf('day').toMillis();
    return dayStart.set({ hour: Math.floor(minute / 60), minute: minute % 60, second: 0, millisecond: 0 }).toMillis();
  }
}
