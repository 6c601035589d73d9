import {
  BusinessCalendar,
  DEFAULT_HOURS,
  hoursFromKeys,
  isCalendarDate,
  parseRange,
  type CalendarSpec,
} from '../tickets/calendar.ts';
import { DEFAULT_AUTO_CLOSE } from '../tickets/auto-close.ts';
import { DEFAULT_TARGETS } from '../tickets/sla.ts';
import { withSettingsFile } from './settings-file.ts';
import type { CalendarSettings, LifecycleSettings } from './settings-types.ts';

/**
 * Lifecycle settings: the business calendar, SLA targets, auto-close, open-case limits, entitlement and the
 * digest. Simple values come from the environment; the calendar, the targets and the organizations may come from
 * an optional file (`MESA_CONFIG_FILE`, JSON or YAML), validated here with the same "every bad key by its name"
 * rule as the environment. Plain, freezable data: the runtime objects (calendars) are built from it in policy.ts.
 *
 * Example file (YAML):
 *
 *   calendar:
 *     hours: { mon: ["08:00-12:00", "13:00-17:00"], sat: ["09:00-12:00"] }   # days left out keep the default
 *     holidayCountry: CO
 *     holidays: ["2026-12-24", "2026-12-31"]
 *   sla:
 *     targets: { alta: { firstResponse: 2h, resolution: 1d } }
 *   organizations:
 *     - domain: cliente.co
 *       maxOpenCases: 5
 *       notify: [gerente@mesa.co]
 *       calendar: { timezone: America/Santiago }
 */

const bool = (v: string) => ['true', '1', 'yes', 'si', 'sí'].includes(v.trim().toLowerCase());

/** The environment part, and the file when MESA_CONFIG_FILE names one. Problems are pushed as "KEY: why". */
export function loadLifecycleSettings(
  env: Record<string, string | undefined>,
  defaultTimezone: string,
  problems: string[],
): LifecycleSettings {
  const num = (
    key: string,
    fallback: number | undefined,
    check: (n: number) => boolean,
    why: string,
  ): number | undefined => {
    const raw = env[key];
    if (raw === undefined || raw.trim() === '') return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || !check(n)) {
      problems.push(`${key}: ${why}`);
      return fallback;
    }
    return n;
  };
  const warnShare = num(
    'SLA_WARN_SHARE',
    0.75,
    (n) => n > 0 && n < 1,
    'debe ser una fracción entre 0 y 1, p. ej. 0.75',
  )!;
  const afterBusinessDays = num(
    'AUTO_CLOSE_BUSINESS_DAYS',
    DEFAULT_AUTO_CLOSE.afterBusinessDays,
    (n) => Number.isInteger(n) && n >= 0,
    'días hábiles enteros (0 = nunca)',
  )!;
  const warnBeforeBusinessDays = num(
    'AUTO_CLOSE_WARN_BUSINESS_DAYS',
    DEFAULT_AUTO_CLOSE.warnBeforeBusinessDays,
    (n) => Number.isInteger(n) && n >= 0,
    'días hábiles enteros',
  )!;
  const maxOpenCasesPerOrg = num(
    'MAX_OPEN_CASES_PER_ORG',
    undefined,
    (n) => Number.isInteger(n) && n > 0,
    'entero positivo (vacío = sin límite)',
  );
  const jobsIntervalSeconds = num(
    'JOBS_INTERVAL_SECONDS',
    300,
    (n) => Number.isInteger(n) && n >= 10,
    'entero de segundos, al menos 10',
  )!;
  let digestMinute = 8 * 60;
  if (env.DIGEST_TIME) {
    const r = parseRange(`${env.DIGEST_TIME}-24:00`);
    if (!r) problems.push('DIGEST_TIME: hora local HH:MM, p. ej. 08:00');
    else digestMinute = r.start;
  }
  const envHolidays = (env.HOLIDAYS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const h of envHolidays)
    if (!isCalendarDate(h)) problems.push(`HOLIDAYS: "${h}" no es una fecha AAAA-MM-DD que exista`);
  const envCountry = env.HOLIDAYS_COUNTRY?.trim() || undefined;
  if (envCountry && !/^[A-Za-z]{2}(-[A-Za-z0-9]{1,3})?$/.test(envCountry))
    problems.push('HOLIDAYS_COUNTRY: código de país ISO, p. ej. CO');

  const base: CalendarSettings = {
    timezone: defaultTimezone,
    hours: DEFAULT_HOURS,
    holidays: envHolidays,
    holidayCountry: envCountry?.toUpperCase(),
  };
  const settings: LifecycleSettings = {
    calendar: base,
    sla: { warnShare, targets: DEFAULT_TARGETS },
    autoClose: { afterBusinessDays, warnBeforeBusinessDays },
    maxOpenCasesPerOrg,
    heldAutoOpen: env.HELD_REQUESTS_AUTO_OPEN ? bool(env.HELD_REQUESTS_AUTO_OPEN) : false,
    digestMinute,
    jobsIntervalSeconds,
  };

  const file = env.MESA_CONFIG_FILE?.trim();
  return checkCalendars(file ? withSettingsFile(settings, file, problems) : settings, problems);
}

export function calendarSpec(c: CalendarSettings): CalendarSpec {
  return {
    timezone: c.timezone,
    hours: hoursFromKeys(c.hours),
    holidays: c.holidays,
    holidayCountry: c.holidayCountry,
  };
}

/** A holiday country the library does not know is a start-up error, not a silent "no holidays". */
function checkCalendars(s: LifecycleSettings, problems: string[]): LifecycleSettings {
  const all: Array<[string, CalendarSettings]> = [
    ['calendar', s.calendar],
    ...(s.organizations ?? [])
      .filter((o) => o.calendar)
      .map((o) => [`organizations ${o.domain}`, o.calendar!] as [string, CalendarSettings]),
  ];
  for (const [where, c] of all) {
    try {
      new BusinessCalendar(calendarSpec(c));
    } catch (err) {
      problems.push(
        (where === 'calendar' && !s.configFile ? 'HOLIDAYS_COUNTRY' : `MESA_CONFIG_FILE ${where}`) +
          `: ${(err as Error).message}`,
      );
    }
  }
  return s;
}
