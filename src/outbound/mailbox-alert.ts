import type { Knex } from 'knex';
import { inUnitOfWork } from '../db/unit-of-work.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { MAILBOX_ARGUMENT } from '../mailboxes/explain.ts';
import type { ReauthNotice } from '../mailboxes/token-types.ts';
import type { Outbox } from './outbox.ts';

/**
 * The alert to ADMIN_ADDRESS when a mailbox's OAuth2 grant is gone: through the outbox like every mail Mesa sends
 * (nothing lost if SMTP is down; kept until it can leave). The token store calls this once per lost grant and at most
 * once a day per mailbox; the idempotency key makes a repeated call for the same event a no-op.
 */
export function mailboxAlert(deps: { db: Knex; config: Config; outbox: Outbox; log: Logger }) {
  return async (n: ReauthNotice): Promise<void> => {
    const to = deps.config.adminAddress;
    if (!to) {
      deps.log.warn(
        { mailbox: n.mailbox },
        'ADMIN_ADDRESS no está configurada: nadie recibe el aviso de que el buzón necesita iniciar sesión',
      );
      return;
    }
    await inUnitOfWork(deps.db, (uow) =>
      deps.outbox.enqueue(uow, {
        key: `mailbox-alert:${n.mailbox}:${n.at}`,
        kind: 'mailbox_alert',
        to,
        automatic: false,
        budgeted: false,
        template: 'mailbox-alert',
        autoSubmitted: 'auto-generated',
        now: n.at,
        data: { user: n.user, code: n.code, explanation: n.explanation, mailboxArgument: MAILBOX_ARGUMENT[n.mailbox] },
      }),
    );
  };
}
