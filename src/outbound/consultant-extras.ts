import type { UnitOfWork } from '../db/unit-of-work.ts';
import type { Config } from '../config.ts';
import { consultantListUrl } from '../links/consultant-list.ts';
import type { Ticket } from '../tickets/types.ts';
import type { Outbox } from './outbox.ts';

/** Published solutions and solved cases like a new one, for the new-case mails (src/services/knowledge.ts), asked
 * for together: `terms`, the new case's question as search stems (src/tickets/search-text.ts); `limit` of each. */
export interface Suggestions {
  suggestionsFor(
    db: UnitOfWork,
    terms: readonly string[],
    limit: number,
    exceptTicketId?: number,
  ): Promise<{ articles: Array<{ id: number; title: string }>; cases: Ticket[] }>;
}

/** A consultant's `/lista`: their signed link to every organization's cases, as a consultant notice. */
export async function enqueueListLink(
  uow: UnitOfWork,
  deps: { config: Config; outbox: Outbox },
  t: Ticket,
  to: string,
  now: number,
): Promise<void> {
  await deps.outbox.enqueue(uow, {
    key: `case:${t.id}:list:${to}:${now}`,
    ticket: t,
    kind: 'notice_list',
    to,
    automatic: true,
    budgeted: true,
    autoSubmitted: 'auto-replied',
    template: 'consultant-notice',
    now,
    pick: { heading: 'headingList', intro: 'introList', next: 'nextList' },
    data: { items: [consultantListUrl(deps.config.publicUrl, deps.config.secretKey, to, now)], commands: false },
  });
}
