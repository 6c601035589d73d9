import type { WeekdayKey } from '../tickets/calendar.ts';
import type { SlaTargets } from '../tickets/sla.ts';
import type { Priority } from '../tickets/types.ts';

/**
 * The lifecycle settings as validated data: what src/policy/settings.ts reads from the environment and
 * settings-file.ts from MESA_CONFIG_FILE. Plain and freezable; the calendars that run are built from it in policy.ts.
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
