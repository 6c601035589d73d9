import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { BusinessCalendar, DEFAULT_HOURS, hoursFromKeys } from '../../../src/tickets/calendar.ts';
import { describeHours } from '../../../src/tickets/hours-text.ts';

const calendar = (
  timezone: string,
  extra: { holidayCountry?: string; holidays?: string[]; hours?: Record<string, string[]> } = {},
) =>
  new BusinessCalendar({
    timezone,
    hours: hoursFromKeys({ ...DEFAULT_HOURS, ...extra.hours }),
    holidayCountry: extra.holidayCountry,
    holidays: extra.holidays,
  });

const bogota = calendar('America/Bogota', { holidayCountry: 'CO' });
const newYork = calendar('America/New_York');
const santiago = calendar('America/Santiago');

/** Local wall time in the calendar's zone → epoch ms, and back, so the tables read as the guides speak. */
const at = (cal: BusinessCalendar, local: string) => DateTime.fromISO(local, { zone: cal.timezone }).toMillis();
const show = (cal: BusinessCalendar, ms: number) =>
  DateTime.fromMillis(ms, { zone: cal.timezone }).toFormat('ccc yyyy-MM-dd HH:mm');
const utc = (ms: number) => new Date(ms).toISOString().slice(0, 16);

describe('business calendar: hours per weekday, Saturday half-day, Colombian holidays (America/Bogota)', () => {
  // 2026-11-16 (Mon) and 2026-12-08 (Tue) and 2026-12-25 (Fri) are public holidays in Colombia.
  it.each([
    ['Fri 15:00 + 4 h: two on Friday, two on Saturday morning', '2026-11-20T15:00', 4, 'Sat 2026-11-21 11:00'],
    ['Fri 16:00 + 4 h ends exactly at Saturday closing', '2026-11-20T16:00', 4, 'Sat 2026-11-21 12:00'],
    ['Sat 11:00 + 2 h: one on Saturday, Sunday skipped, one on Monday', '2026-11-21T11:00', 2, 'Mon 2026-11-23 09:00'],
    ['filed on Sunday: counts from Monday 08:00', '2026-11-22T10:00', 1, 'Mon 2026-11-23 09:00'],
    ['filed before opening (07:00)', '2026-11-24T07:00', 1, 'Tue 2026-11-24 09:00'],
    ['filed after closing (20:00)', '2026-11-24T20:00', 1, 'Wed 2026-11-25 09:00'],
    ['Saturday 11:30 + 2 h across Sunday and the Monday holiday', '2026-11-14T11:30', 2, 'Tue 2026-11-17 09:30'],
    ['9 h is one full weekday', '2026-11-24T08:00', 9, 'Tue 2026-11-24 17:00'],
    ['0 h outside hours is the next opening', '2026-11-21T13:00', 0, 'Mon 2026-11-23 08:00'],
  ])('%s', (_name, start, hours, expected) => {
    expect(show(bogota, bogota.addBusinessHours(at(bogota, start), hours))).toBe(expected);
  });

  it.each([
    ['Wed 10:00 + 2 days', '2026-11-18T10:00', 2, 'Fri 2026-11-20 10:00'],
    ['Thu 10:00 + 2 days lands on the Saturday half-day', '2026-11-19T10:00', 2, 'Sat 2026-11-21 10:00'],
    ['Thu 15:00 + 2 days: Saturday closes at 12:00', '2026-11-19T15:00', 2, 'Sat 2026-11-21 12:00'],
    ['Fri 10:00 + 2 days skips Sunday and the Monday holiday', '2026-11-13T10:00', 2, 'Tue 2026-11-17 10:00'],
    ['Fri 18:00 (after hours) + 1 day counts from Saturday 09:00', '2026-12-04T18:00', 1, 'Mon 2026-12-07 09:00'],
    ['Fri 18:00 + 2 days skips the 8 December holiday', '2026-12-04T18:00', 2, 'Wed 2026-12-09 09:00'],
    ['24 December + 1 day skips Christmas', '2026-12-24T10:00', 1, 'Sat 2026-12-26 10:00'],
  ])('%s', (_name, start, days, expected) => {
    expect(show(bogota, bogota.addBusinessDays(at(bogota, start), days))).toBe(expected);
  });

  it.each([
    ['Saturday 11:59 is business time', '2026-11-21T11:59', true],
    ['Saturday 12:00 is not', '2026-11-21T12:00', false],
    ['Sunday noon is not', '2026-11-22T12:00', false],
    ['a holiday morning is not', '2026-11-16T10:00', false],
    ['Monday 08:00 is', '2026-11-23T08:00', true],
    ['Monday 17:00 is not (ranges are half-open)', '2026-11-23T17:00', false],
  ])('%s', (_name, local, expected) => {
    expect(bogota.isBusinessTime(at(bogota, local))).toBe(expected);
  });

  it('counts business time between two instants: 9 h Friday + 3 h Saturday + 9 h Monday', () => {
    expect(bogota.businessMsBetween(at(bogota, '2026-11-20T00:00'), at(bogota, '2026-11-23T23:59')) / 3_600_000).toBe(
      21,
    );
  });

  it('takes holidays from a config list as well', () => {
    const cal = calendar('America/Bogota', { holidays: ['2026-11-23'] });
    expect(show(cal, cal.addBusinessHours(at(cal, '2026-11-21T11:00'), 2))).toBe('Tue 2026-11-24 09:00');
  });

  it('supports a lunch break between two ranges', () => {
    const cal = calendar('America/Bogota', { hours: { mon: ['08:00-12:00', '13:00-17:00'] } });
    expect(show(cal, cal.addBusinessHours(at(cal, '2026-11-23T11:00'), 2))).toBe('Mon 2026-11-23 14:00');
    expect(cal.isBusinessTime(at(cal, '2026-11-23T12:30'))).toBe(false);
  });

  it('refuses an unknown holiday country', () => {
    expect(() => calendar('America/Bogota', { holidayCountry: 'XX' })).toThrow(/XX/);
  });
});

describe('business calendar across DST changes', () => {
  it.each([
    // America/New_York springs forward on Sun 2026-03-08 and falls back on Sun 2026-11-01.
    [
      'New York, Sat 11:00 EST + 2 h → Mon 09:00 EDT',
      newYork,
      '2026-03-07T11:00',
      2,
      'Mon 2026-03-09 09:00',
      '2026-03-09T13:00',
    ],
    [
      'New York, Sat 11:00 EDT + 2 h → Mon 09:00 EST',
      newYork,
      '2026-10-31T11:00',
      2,
      'Mon 2026-11-02 09:00',
      '2026-11-02T14:00',
    ],
    // America/Santiago springs forward at local midnight on Sun 2026-09-06 (that day has no 00:00).
    [
      'Santiago, Sat 11:00 CLT + 2 h → Mon 09:00 CLST',
      santiago,
      '2026-09-05T11:00',
      2,
      'Mon 2026-09-07 09:00',
      '2026-09-07T12:00',
    ],
    [
      'Santiago, Sat 11:00 CLST + 2 h → Mon 09:00 CLT (falls back 2026-04-05)',
      santiago,
      '2026-04-04T11:00',
      2,
      'Mon 2026-04-06 09:00',
      '2026-04-06T13:00',
    ],
  ])('%s', (_name, cal, start, hours, local, utcExpected) => {
    const due = cal.addBusinessHours(at(cal, start), hours);
    expect(show(cal, due)).toBe(local);
    expect(utc(due)).toBe(utcExpected);
  });

  it('one business day across the spring-forward weekend is the same local time, 71 real hours later', () => {
    const start = at(newYork, '2026-03-06T10:00');
    const due = newYork.addBusinessDays(start, 2);
    expect(show(newYork, due)).toBe('Mon 2026-03-09 10:00');
    expect((due - start) / 3_600_000).toBe(71);
    expect(newYork.businessMsBetween(start, due) / 3_600_000).toBe(7 + 3 + 2);
  });

  it('a working window spanning the skipped hour is an hour shorter, and the repeated hour an hour longer', () => {
    const night = calendar('America/New_York', { hours: { sun: ['01:00-04:00'] } });
    const day = (d: string) => night.businessMsBetween(at(night, `${d}T00:00`), at(night, `${d}T23:00`)) / 3_600_000;
    expect(day('2026-03-08')).toBe(2);
    expect(day('2026-11-01')).toBe(4);
    expect(day('2026-11-08')).toBe(3);
  });
});

describe('business calendar: the days it keeps worked out', () => {
  // Each calendar keeps the days it has worked out (src/tickets/calendar.ts, dayOn). Checked against a plain reading
  // of the hours, instant by instant (every quarter hour: the hours below start and end on one), with a calendar that
  // has already walked the year: across DST changes, a skipped midnight (Santiago, 2026-09-06), night hours, the
  // repeated hour and holidays. One fixed sequence of instants (a linear congruential generator), so a failure
  // repeats.
  const QUARTER = 15 * 60_000;
  const kinds: Array<[string, Record<string, string[]>, string[]]> = [
    ['America/Santiago', { sun: ['00:00-02:00', '22:00-24:00'], sat: ['09:00-12:00'] }, []],
    ['America/New_York', { sun: ['01:00-04:00'] }, ['2026-07-03']],
    ['America/Bogota', {}, ['2026-12-08', '2026-12-25']],
  ];
  it.each(kinds)('%s', (zone, hours, holidays) => {
    const cal = calendar(zone, { hours, holidays });
    const spec = hoursFromKeys({ ...DEFAULT_HOURS, ...hours });
    const worked = (ms: number) => {
      const local = DateTime.fromMillis(ms, { zone });
      const minute = local.hour * 60 + local.minute;
      if (holidays.includes(local.toISODate()!)) return false;
      return (spec[local.weekday as 1] ?? []).some((r) => minute >= r.start && minute < r.end);
    };
    let seed = 20261207;
    const next = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const year = DateTime.fromISO('2026-01-01T00:00', { zone }).toMillis();
    for (let q = 0; q < 120; q++) {
      const from = year + next(365 * 96) * QUARTER;
      const to = from + next(9 * 96) * QUARTER;
      let expected = 0;
      for (let t = from; t < to; t += QUARTER) if (worked(t)) expected += QUARTER;
      expect(cal.businessMsBetween(from, to), `${DateTime.fromMillis(from, { zone }).toISO()} → ${q}`).toBe(expected);
      expect(cal.isBusinessTime(to)).toBe(worked(to));
      // What builds on the same days: as many business hours between the start and the deadline as were asked for,
      // and the same answers as a calendar that has walked nothing.
      const h = 1 + next(60);
      const d = next(12);
      const fresh = calendar(zone, { hours, holidays });
      const due = cal.addBusinessHours(from, h);
      expect(cal.businessMsBetween(from, due)).toBe(h * 3_600_000);
      expect(due).toBe(fresh.addBusinessHours(from, h));
      expect(cal.addBusinessDays(from, d)).toBe(fresh.addBusinessDays(from, d));
    }
  });
});

describe('business hours in words (for mails)', () => {
  it.each([
    ['es', DEFAULT_HOURS, 'lunes a viernes, de 8:00 a 17:00; sábado, de 9:00 a 12:00'],
    ['en', DEFAULT_HOURS, 'Monday to Friday, 8:00 to 17:00; Saturday, 9:00 to 12:00'],
    [
      'es',
      { ...DEFAULT_HOURS, mon: ['08:00-12:00', '13:00-17:30'], tue: ['08:00-12:00', '13:00-17:30'], sat: [] },
      'lunes y martes, de 8:00 a 12:00 y de 13:00 a 17:30; miércoles a viernes, de 8:00 a 17:00',
    ],
  ] as const)('%s %j', (locale, hours, expected) => {
    expect(describeHours(hours, locale)).toBe(expected);
  });
});
