import { BusinessCalendar } from '../tickets/calendar.ts';
import { organizationOf } from '../tickets/organization.ts';
import type { SlaPolicy } from '../tickets/sla.ts';
import type { AutoClosePolicy } from '../tickets/auto-close.ts';
import { calendarSpec } from './settings.ts';
import type { LifecycleSettings, OrganizationSettings } from './settings-types.ts';

/**
 * The lifecycle rules as runtime objects, built once from the validated settings: the business calendar (and any
 * organization's own), SLA and auto-close policies, and the per-organization limit and entitlement look-ups.
 */
export class Policy {
  readonly calendar: BusinessCalendar;
  readonly sla: SlaPolicy;
  readonly autoClose: AutoClosePolicy;
  private readonly orgCalendars = new Map<string, BusinessCalendar>();
  private readonly orgs?: ReadonlyMap<string, OrganizationSettings>;

  constructor(readonly settings: LifecycleSettings) {
    this.calendar = new BusinessCalendar(calendarSpec(settings.calendar));
    this.sla = settings.sla;
    this.autoClose = settings.autoClose;
    if (settings.organizations) {
      this.orgs = new Map(settings.organizations.map((o) => [o.domain, o]));
      for (const o of settings.organizations)
        if (o.calendar) this.orgCalendars.set(o.domain, new BusinessCalendar(calendarSpec(o.calendar)));
    }
  }

  /** The organization's entry, matched by the organization key (a domain) or, for public mail services, the
   * address's domain. */
  organization(org: string): OrganizationSettings | undefined {
    if (!this.orgs) return undefined;
    return this.orgs.get(org) ?? this.orgs.get(org.slice(org.lastIndexOf('@') + 1));
  }

  /** With no list configured everyone may file cases. */
  isEntitled(org: string): boolean {
    return !this.orgs || this.organization(org) !== undefined;
  }

  maxOpenCases(org: string): number | undefined {
    return this.organization(org)?.maxOpenCases ?? this.settings.maxOpenCasesPerOrg;
  }

  calendarFor(org: string | undefined): BusinessCalendar {
    if (!org) return this.calendar;
    const o = this.organization(org);
    return (o && this.orgCalendars.get(o.domain)) ?? this.calendar;
  }

  /** Consultants told about this organization's cases besides the usual ones. */
  extraConsultants(org: string): readonly string[] {
    return this.organization(org)?.notify ?? [];
  }

  organizationOfAddress(address: string): string {
    return organizationOf(address);
  }
}
