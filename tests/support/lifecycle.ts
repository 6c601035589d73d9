import { DateTime } from 'luxon';
import type { UnitOfWork } from '../../src/db/unit-of-work.ts';
import type { App } from '../../src/app.ts';
import { runJobs } from '../../src/jobs/run.ts';
import type { CaseEvent, Notifier } from '../../src/services/case-events.ts';
import { mail } from './mail.ts';

/** Helpers for the lifecycle tests: local Bogotá times, mail builders, and a run of the jobs as of a time. */
export const ZONE = 'America/Bogota';
export const at = (local: string, zone = ZONE) => DateTime.fromISO(local, { zone }).toMillis();

export { mail };

/** A consultant's reply that the receiving server vouches for (TRUSTED_AUTHSERV_IDS=mx.mesa.test). */
export const consultantReply = (from: string, number: number, id: string, body: string) =>
  mail(
    {
      From: from,
      To: 'soporte@mesa.test',
      Subject: `RE: [Caso #${number}] respuesta`,
      'Message-ID': `<${id}>`,
      'Authentication-Results': 'mx.mesa.test; dmarc=pass header.from=mesa.test; spf=pass smtp.mailfrom=mesa.test',
    },
    body,
  );

/** A customer's reply whose domain passed DMARC at the receiving server: proven, so it may reopen the case and
 * change whom it waits on (an unproven one is kept as text only, src/inbound/filters/customer-proof.ts). */
export const customerReply = (from: string, number: number, subject: string, id: string, body: string) =>
  mail(
    {
      From: from,
      To: 'soporte@mesa.test',
      Subject: `RE: [Caso #${number}] ${subject}`,
      'Message-ID': `<${id}>`,
      'Authentication-Results': `mx.mesa.test; dmarc=pass header.from=${from.split('@')[1]}`,
    },
    body,
  );

export function jobsAt(app: App, local: string) {
  return runJobs(
    { db: app.db, config: app.config, cases: app.cases, policy: app.policy, logger: app.logger },
    at(local),
  );
}

/** Records the events the notifiers are told about (for tests of which events fire, apart from their mail). */
export class RecordingNotifier implements Notifier {
  readonly events: CaseEvent[] = [];
  async onCaseEvent(_uow: UnitOfWork, e: CaseEvent): Promise<void> {
    this.events.push(e);
  }
  of<T extends CaseEvent['type']>(type: T): Array<Extract<CaseEvent, { type: T }>> {
    return this.events.filter((e): e is Extract<CaseEvent, { type: T }> => e.type === type);
  }
}
