import type { UnitOfWork } from '../db/unit-of-work.ts';
import type { Config } from '../config.ts';
import type { CaseEvent, Notifier } from '../services/case-events.ts';
import type { MailRejected } from '../services/mail-rejected.ts';
import type { Outbox } from './outbox.ts';
import { noSubject } from '../tickets/subject.ts';
import { humanSize } from './templates.ts';
import { isUnreadAddress } from '../mail/unread-addresses.ts';

/**
 * The polite refusal for mail we cannot take. `too_large` comes from the quarantine (only From and Subject were
 * read); `not_entitled` and `over_limit` are for the lifecycle rules to call with `refuse()`. Never sent to our
 * own addresses or to daemon-like senders, and always under the loop budget (it is automatic mail).
 */
export type RefusalReason = 'too_large' | 'not_entitled' | 'over_limit' | 'other';

export class Refusals implements Notifier {
  constructor(private readonly deps: { config: Config; outbox: Outbox }) {}

  /** A mail the ingest refused (CaseEvent `mail_rejected`); the other events are the MailNotifier's. */
  async onCaseEvent(uow: UnitOfWork, e: CaseEvent): Promise<void> {
    if (e.type === 'mail_rejected') await this.onRejected(uow, e);
  }

  onRejected = async (uow: UnitOfWork, r: MailRejected): Promise<void> => {
    if (r.reason !== 'too_large' || !r.from) return;
    await this.refuse(uow, {
      key: `refusal:quarantine:${r.quarantineId}`,
      to: r.from,
      subject: r.subject ?? '',
      reason: 'too_large',
      inReplyTo: r.messageId,
      limit: humanSize(this.deps.config.limits.maxMessageBytes),
      now: r.now,
    });
  };

  async refuse(
    uow: UnitOfWork,
    p: {
      key: string;
      to: string;
      /** The name for the greeting; without it, the address's local part. */
      toName?: string;
      subject: string;
      reason: RefusalReason;
      inReplyTo?: string;
      limit?: string;
      openCases?: Array<{ number: number; subject: string; url: string }>;
      now: number;
    },
  ): Promise<boolean> {
    const { config } = this.deps;
    const to = p.to.toLowerCase();
    if ([config.supportAddress, config.fallbackAddress].includes(to) || isUnreadAddress(to)) return false;
    const subject = p.subject.replace(/\s+/g, ' ').trim().slice(0, 200) || noSubject(config.locale);
    const res = await this.deps.outbox.enqueue(uow, {
      key: p.key,
      kind: `refusal_${p.reason}`,
      to,
      toName: p.toName,
      automatic: true,
      budgeted: true,
      autoSubmitted: 'auto-replied',
      template: 'refusal',
      pick: { reason: `reasons.${p.reason}` },
      inReplyTo: p.inReplyTo,
      subject: `${/^re:/i.test(subject) ? '' : 'Re: '}${subject}`,
      now: p.now,
      data: { subject, limit: p.limit ?? '', openCases: p.openCases ?? [] },
    });
    return res.state === 'pending';
  }
}
