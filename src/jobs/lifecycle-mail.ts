import type { UnitOfWork } from '../db/unit-of-work.ts';
import type { Config } from '../config.ts';
import { participantsOf } from '../db/repos/tickets.ts';
import type { LinkService } from '../links/links.ts';
import type { Outbox } from '../outbound/outbox.ts';
import type { Policy } from '../policy/policy.ts';
import type { CaseEvent, Notifier } from '../services/case-events.ts';
import type { DigestEntry } from '../services/lifecycle-events.ts';
import { productLabel } from '../tickets/products.ts';
import { noSubject } from '../tickets/subject.ts';
import { consultantListUrl } from '../links/consultant-list.ts';
import type { Light } from '../tickets/sla.ts';
import type { Ticket } from '../tickets/types.ts';

/**
 * The mail the lifecycle rules cause, written to the outbox in the same transaction as the rule's own record:
 * the auto-close warning (to the requester and the CC'd) and the consultants' morning digest. The closing mail
 * and the refusal of held requests are the outbound notifier's (`closed`, `refusal`), since they are the same
 * mails whatever caused them.
 */
const LIGHT_WORDS: Record<'es' | 'en', Record<Light, string>> = {
  es: { green: 'verde', yellow: 'amarillo', red: 'rojo' },
  en: { green: 'green', yellow: 'yellow', red: 'red' },
};
const LIGHT_COLORS: Record<Light, string> = { green: '#1a7f37', yellow: '#9a6700', red: '#cf222e' };

export class LifecycleMailNotifier implements Notifier {
  constructor(private readonly deps: { config: Config; outbox: Outbox; links: LinkService; policy: Policy }) {}

  async onCaseEvent(uow: UnitOfWork, e: CaseEvent): Promise<void> {
    if (e.type === 'autoclose_warning') return this.warning(uow, e.ticket, e.closeAt, e.waitingSince, e.at);
    if (e.type === 'digest') return this.digest(uow, e.to, e.date, e.cases, e.at);
  }

  /** "miércoles 25 de noviembre, 10:00" in the case's calendar zone and the configured language. */
  private when(ms: number, org?: string): string {
    const cal = this.deps.policy.calendarFor(org);
    const es = this.deps.config.locale === 'es';
    return cal
      .local(ms)
      .setLocale(es ? 'es' : 'en')
      .toFormat(es ? "cccc d 'de' LLLL, HH:mm" : 'cccc, LLLL d, HH:mm');
  }

  private async warning(uow: UnitOfWork, t: Ticket, closeAt: number, waitingSince: number, now: number): Promise<void> {
    const { config } = this.deps;
    const people = (await participantsOf(uow, t.id))
      .filter((p) => p.role === 'requester' || p.role === 'cc')
      .map((p) => p.address);
    const recipients = [...new Set([t.requester, ...people])].filter(
      (a) => !config.consultants.includes(a) && a !== config.supportAddress && a !== config.fallbackAddress,
    );
    // The same fan-out cap as an answer (MAX_RECIPIENTS_PER_ANSWER): the requester and the earliest added.
    for (const to of recipients.slice(0, config.participants.perAnswer)) {
      await this.deps.outbox.enqueue(uow, {
        key: `case:${t.id}:autoclose-warning:${waitingSince}:${to}`,
        ticket: t,
        kind: 'autoclose_warning',
        to,
        toName: to === t.requester ? t.requesterName : undefined,
        automatic: true,
        budgeted: true,
        autoSubmitted: 'auto-generated',
        template: 'autoclose-warning',
        now,
        data: {
          closeAtText: this.when(closeAt, t.organization),
          caseUrl: await this.deps.links.issueLink(uow, { ticketId: t.id, number: t.number, recipient: to, now }),
        },
      });
    }
  }

  private async digest(
    uow: UnitOfWork,
    to: string,
    date: string,
    entries: readonly DigestEntry[],
    now: number,
  ): Promise<void> {
    const locale = this.deps.config.locale;
    const cases = [];
    for (const c of entries) {
      cases.push({
        number: c.ticket.number,
        subject: c.ticket.subject || noSubject(locale),
        organization: c.ticket.organization,
        product: productLabel(c.ticket) ?? '',
        priority: c.ticket.priority,
        stage: c.ticket.stage,
        unassigned: !c.ticket.assignee,
        lightLabel: LIGHT_WORDS[locale][c.light],
        color: LIGHT_COLORS[c.light],
        due: c.dueAt ? this.when(c.dueAt, c.ticket.organization) : '—',
        url: await this.deps.links.issueLink(uow, {
          ticketId: c.ticket.id,
          number: c.ticket.number,
          recipient: to,
          now,
        }),
      });
    }
    const dateText = this.deps.policy.calendar
      .local(now)
      .setLocale(locale)
      .toFormat(locale === 'es' ? "cccc d 'de' LLLL" : 'cccc, LLLL d');
    await this.deps.outbox.enqueue(uow, {
      key: `digest:${to}:${date}`,
      kind: 'digest',
      to,
      automatic: true,
      budgeted: false,
      autoSubmitted: 'auto-generated',
      template: 'digest',
      now,
      data: {
        dateText,
        cases,
        count: cases.length,
        listUrl: consultantListUrl(this.deps.config.publicUrl, this.deps.config.secretKey, to, now),
        redCount: entries.filter((c) => c.light === 'red').length,
        yellowCount: entries.filter((c) => c.light === 'yellow').length,
      },
    });
  }
}
