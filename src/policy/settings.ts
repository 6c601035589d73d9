import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { timezone } from '../config-fields.ts';
import { BusinessCalendar, DEFAULT_HOURS, hoursFromKeys, parseRange, WEEKDAY_KEYS, type CalendarSpec, type WeekdayKey } from '../tickets/calendar.ts';
import { DEFAULT_AUTO_CLOSE } from '../tickets/auto-close.ts';
import { DEFAULT_TARGETS, parseDuration, type BusinessDuration, type SlaTargets } from '../tickets/sla.ts';
import { PRIORITIES, type Priority } from '../tickets/types.ts';

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

export interface CalendarSettings {
  timezone: string;
  /** Per weekday key, ranges "HH:MM-HH:MM". */
  hours: Readonly<Record<WeekdayKey, readonly string[]>>;
  holidays: readonly string[];
  holidayCountry?: string;
}

export interface OrganizationSettings {
  domain: string;
  maxOpenCases?: number;
  calendar?: CalendarSettings;
  /** Consultants told about this organization's cases besides the usual ones. */
  notify: readonly string[];
}

export interface LifecycleSettings {
  calendar: CalendarSettings;
  sla: { warnShare: number; targets: Readonly<Record<Priority, SlaTargets>> };
  autoClose: { afterBusinessDays: number; warnBeforeBusinessDays: number };
  /** Cases not closed an organization may have at once; undefined = no limit. */
  maxOpenCasesPerOrg?: number;
  /** When a case closes, open the oldest held request of that organization automatically. */
  heldAutoOpen: boolean;
  /** Entitled organizations; undefined = anyone may file cases. */
  organizations?: readonly OrganizationSettings[];
  /** Local time of the consultants' morning digest, minutes after midnight. */
  digestMinute: number;
  jobsIntervalSeconds: number;
  configFile?: string;
}

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'fecha YYYY-MM-DD');
const range = z.string().refine((r) => parseRange(r) !== undefined, 'rango HH:MM-HH:MM con fin posterior al inicio');
const duration = z.string().transform((s, ctx) => {
  const d = parseDuration(s);
  if (!d) ctx.addIssue({ code: 'custom', message: `duración inválida "${s}" (p. ej. 2h, 8h, 1d, 3d)` });
  return d as BusinessDuration;
});

const CalendarFile = z.object({
  timezone: timezone.optional(),
  hours: z.object(Object.fromEntries(WEEKDAY_KEYS.map((k) => [k, z.array(range).optional()])) as Record<WeekdayKey, z.ZodOptional<z.ZodArray<typeof range>>>).strict().optional(),
  holidays: z.array(isoDate).optional(),
  holidayCountry: z.string().regex(/^[A-Za-z]{2}(-[A-Za-z0-9]{1,3})?$/, 'código de país ISO, p. ej. CO').optional(),
}).strict();

const TargetsFile = z.object({ firstResponse: duration, resolution: duration }).strict();

const FileSchema = z.object({
  calendar: CalendarFile.optional(),
  sla: z.object({
    warnShare: z.number().gt(0).lt(1).optional(),
    targets: z.object({ alta: TargetsFile.optional(), media: TargetsFile.optional(), baja: TargetsFile.optional() }).strict().optional(),
  }).strict().optional(),
  organizations: z.array(z.object({
    domain: z.string().trim().toLowerCase().min(3),
    maxOpenCases: z.number().int().positive().optional(),
    notify: z.array(z.string().trim().toLowerCase().email()).default([]),
    calendar: CalendarFile.optional(),
  }).strict()).optional(),
}).strict();

const bool = (v: string) => ['true', '1', 'yes', 'si', 'sí'].includes(v.trim().toLowerCase());

/** The environment part, and the file when MESA_CONFIG_FILE names one. Problems are pushed as "KEY: why". */
export function loadLifecycleSettings(env: Record<string, string | undefined>, defaultTimezone: string, problems: string[]): LifecycleSettings {
  const num = (key: string, fallback: number | undefined, check: (n: number) => boolean, why: string): number | undefined => {
    const raw = env[key];
    if (raw === undefined || raw.trim() === '') return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || !check(n)) {
      problems.push(`${key}: ${why}`);
      return fallback;
    }
    return n;
  };
  const warnShare = num('SLA_WARN_SHARE', 0.75, (n) => n > 0 && n < 1, 'debe ser una fracción entre 0 y 1, p. ej. 0.75')!;
  const afterBusinessDays = num('AUTO_CLOSE_BUSINESS_DAYS', DEFAULT_AUTO_CLOSE.afterBusinessDays, (n) => Number.isInteger(n) && n >= 0, 'días hábiles enteros (0 = nunca)')!;
  const warnBeforeBusinessDays = num('AUTO_CLOSE_WARN_BUSINESS_DAYS', DEFAULT_AUTO_CLOSE.warnBeforeBusinessDays, (n) => Number.isInteger(n) && n >= 0, 'días hábiles enteros')!;
  const maxOpenCasesPerOrg = num('MAX_OPEN_CASES_PER_ORG', undefined, (n) => Number.isInteger(n) && n > 0, 'entero positivo (vacío = sin límite)');
  const jobsIntervalSeconds = num('JOBS_INTERVAL_SECONDS', 300, (n) => Number.isInteger(n) && n >= 10, 'entero de segundos, al menos 10')!;
  let digestMinute = 8 * 60;
  if (env.DIGEST_TIME) {
    const r = parseRange(`${env.DIGEST_TIME}-24:00`);
    if (!r) problems.push('DIGEST_TIME: hora local HH:MM, p. ej. 08:00');
    else digestMinute = r.start;
  }
  const envHolidays = (env.HOLIDAYS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const h of envHolidays) if (!/^\d{4}-\d{2}-\d{2}$/.test(h)) problems.push(`HOLIDAYS: "${h}" no es una fecha YYYY-MM-DD`);
  const envCountry = env.HOLIDAYS_COUNTRY?.trim() || undefined;
  if (envCountry && !/^[A-Za-z]{2}(-[A-Za-z0-9]{1,3})?$/.test(envCountry)) problems.push('HOLIDAYS_COUNTRY: código de país ISO, p. ej. CO');

  const base: CalendarSettings = { timezone: defaultTimezone, hours: DEFAULT_HOURS, holidays: envHolidays, holidayCountry: envCountry?.toUpperCase() };
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
  if (!file) return checkCalendars(settings, problems);
  const parsed = readFile(file, problems);
  if (!parsed) return settings;
  const checked = FileSchema.safeParse(parsed);
  if (!checked.success) {
    for (const issue of checked.error.issues) problems.push(`MESA_CONFIG_FILE ${issue.path.join('.') || '(raíz)'}: ${issue.message}`);
    return settings;
  }
  const f = checked.data;
  const calendar = f.calendar ? mergeCalendar(base, f.calendar) : base;
  const targets = { ...DEFAULT_TARGETS } as Record<Priority, SlaTargets>;
  for (const p of PRIORITIES) if (f.sla?.targets?.[p]) targets[p] = f.sla.targets[p]!;
  return checkCalendars({
    ...settings,
    configFile: path.resolve(file),
    calendar,
    sla: { warnShare: f.sla?.warnShare ?? warnShare, targets },
    organizations: f.organizations?.map((o) => ({
      domain: o.domain, maxOpenCases: o.maxOpenCases, notify: o.notify,
      calendar: o.calendar ? mergeCalendar(calendar, o.calendar) : undefined,
    })),
  }, problems);
}

export function calendarSpec(c: CalendarSettings): CalendarSpec {
  return { timezone: c.timezone, hours: hoursFromKeys(c.hours), holidays: c.holidays, holidayCountry: c.holidayCountry };
}

/** A holiday country the library does not know is a start-up error, not a silent "no holidays". */
function checkCalendars(s: LifecycleSettings, problems: string[]): LifecycleSettings {
  const all: Array<[string, CalendarSettings]> = [['calendar', s.calendar], ...(s.organizations ?? []).filter((o) => o.calendar).map((o) => [`organizations ${o.domain}`, o.calendar!] as [string, CalendarSettings])];
  for (const [where, c] of all) {
    try {
      new BusinessCalendar(calendarSpec(c));
    } catch (err) {
      problems.push(`${where === 'calendar' && !s.configFile ? 'HOLIDAYS_COUNTRY' : `MESA_CONFIG_FILE ${where}`}: ${(err as Error).message}`);
    }
  }
  return s;
}

function mergeCalendar(base: CalendarSettings, over: z.infer<typeof CalendarFile>): CalendarSettings {
  return {
    timezone: over.timezone ?? base.timezone,
    hours: { ...base.hours, ...Object.fromEntries(Object.entries(over.hours ?? {}).filter(([, v]) => v !== undefined)) } as CalendarSettings['hours'],
    holidays: [...new Set([...base.holidays, ...(over.holidays ?? [])])],
    holidayCountry: over.holidayCountry?.toUpperCase() ?? base.holidayCountry,
  };
}

function readFile(file: string, problems: string[]): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    problems.push(`MESA_CONFIG_FILE: no se pudo leer ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    return undefined;
  }
  try {
    return /\.ya?ml$/i.test(file) ? YAML.parse(text) : JSON.parse(text);
  } catch (err) {
    problems.push(`MESA_CONFIG_FILE: ${file} no es ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'} válido (${(err as Error).message.split('\n')[0]})`);
    return undefined;
  }
}
