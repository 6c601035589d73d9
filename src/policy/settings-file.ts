import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { email, IN_SPANISH, timezone } from '../config-fields.ts';
import { isCalendarDate, parseRange, WEEKDAY_KEYS, type WeekdayKey } from '../tickets/calendar.ts';
import { foldText } from '../tickets/products.ts';
import { DEFAULT_TARGETS, parseDuration, type BusinessDuration, type SlaTargets } from '../tickets/sla.ts';
import { PRIORITIES, type Priority } from '../tickets/types.ts';
import type { CalendarSettings, LifecycleSettings } from './settings-types.ts';

/**
 * The optional lifecycle file (`MESA_CONFIG_FILE`, JSON or YAML): the business calendar, SLA targets and the
 * entitled organizations, read and validated with the same "every bad key by its name" rule as the environment.
 * What the file says overrides what the environment said (src/policy/settings.ts); a calendar given for an
 * organization starts from the desk's calendar and changes only what it names.
 */

const isoDate = z
  .string()
  .refine(isCalendarDate, { error: (i) => `"${String(i.input)}" no es una fecha AAAA-MM-DD que exista` });
const range = z
  .string()
  .refine((r) => parseRange(r) !== undefined, 'rango HH:MM-HH:MM con fin posterior al inicio, p. ej. 08:00-17:00');
const duration = z.string().transform((s, ctx) => {
  const d = parseDuration(s);
  if (!d) ctx.addIssue({ code: 'custom', message: `duración inválida "${s}" (p. ej. 2h, 8h, 1d, 3d)` });
  return d as BusinessDuration;
});

/** The hours' days also by their Spanish names, with or without accents (`lunes`, `miércoles`, `sábado`). */
const SPANISH_DAYS: Record<string, WeekdayKey> = {
  lunes: 'mon',
  martes: 'tue',
  miercoles: 'wed',
  jueves: 'thu',
  viernes: 'fri',
  sabado: 'sat',
  domingo: 'sun',
};
const dayKey = (key: string) => {
  const plain = foldText(key.trim());
  return SPANISH_DAYS[plain] ?? plain;
};
const byDayKey = (v: unknown) =>
  v && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.entries(v).map(([k, ranges]) => [dayKey(k), ranges]))
    : v;

const CalendarFile = z
  .object({
    timezone: timezone.optional(),
    hours: z
      .preprocess(
        byDayKey,
        z
          .object(
            Object.fromEntries(WEEKDAY_KEYS.map((k) => [k, z.array(range).optional()])) as Record<
              WeekdayKey,
              z.ZodOptional<z.ZodArray<typeof range>>
            >,
          )
          .strict(),
      )
      .optional(),
    holidays: z.array(isoDate).optional(),
    holidayCountry: z
      .string()
      .regex(/^[A-Za-z]{2}(-[A-Za-z0-9]{1,3})?$/, 'código de país ISO, p. ej. CO')
      .optional(),
  })
  .strict();

const TargetsFile = z.object({ firstResponse: duration, resolution: duration }).strict();

const FileSchema = z
  .object({
    calendar: CalendarFile.optional(),
    sla: z
      .object({
        warnShare: z.number().gt(0).lt(1).optional(),
        targets: z
          .object({ alta: TargetsFile.optional(), media: TargetsFile.optional(), baja: TargetsFile.optional() })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    organizations: z
      .array(
        z
          .object({
            domain: z.string().trim().toLowerCase().min(3),
            maxOpenCases: z.number().int().positive().optional(),
            notify: z.array(email).default([]),
            calendar: CalendarFile.optional(),
          })
          .strict(),
      )
      .optional(),
  })
  .strict();

/** The settings from the environment with the file's values over them; a problem leaves them as they were. */
export function withSettingsFile(settings: LifecycleSettings, file: string, problems: string[]): LifecycleSettings {
  const parsed = readFile(file, problems);
  if (!parsed) return settings;
  const checked = FileSchema.safeParse(parsed, IN_SPANISH);
  if (!checked.success) {
    for (const issue of checked.error.issues)
      problems.push(`MESA_CONFIG_FILE ${issue.path.join('.') || '(raíz)'}: ${issue.message}`);
    return settings;
  }
  const f = checked.data;
  const calendar = f.calendar ? mergeCalendar(settings.calendar, f.calendar) : settings.calendar;
  const targets = { ...DEFAULT_TARGETS } as Record<Priority, SlaTargets>;
  for (const p of PRIORITIES) if (f.sla?.targets?.[p]) targets[p] = f.sla.targets[p]!;
  return {
    ...settings,
    configFile: path.resolve(file),
    calendar,
    sla: { warnShare: f.sla?.warnShare ?? settings.sla.warnShare, targets },
    organizations: f.organizations?.map((o) => ({
      domain: o.domain,
      maxOpenCases: o.maxOpenCases,
      notify: o.notify,
      calendar: o.calendar ? mergeCalendar(calendar, o.calendar) : undefined,
    })),
  };
}

function mergeCalendar(base: CalendarSettings, over: z.infer<typeof CalendarFile>): CalendarSettings {
  return {
    timezone: over.timezone ?? base.timezone,
    hours: {
      ...base.hours,
      ...Object.fromEntries(Object.entries(over.hours ?? {}).filter(([, v]) => v !== undefined)),
    } as CalendarSettings['hours'],
    holidays: [...new Set([...base.holidays, ...(over.holidays ?? [])])],
    holidayCountry: over.holidayCountry?.toUpperCase() ?? base.holidayCountry,
  };
}

function readFile(file: string, problems: string[]): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    problems.push(
      `MESA_CONFIG_FILE: no se pudo leer ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
    return undefined;
  }
  try {
    return /\.ya?ml$/i.test(file) ? YAML.parse(text) : JSON.parse(text);
  } catch (err) {
    problems.push(
      `MESA_CONFIG_FILE: ${file} no es ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'} válido ` +
        `(${(err as Error).message.split('\n')[0]})`,
    );
    return undefined;
  }
}
