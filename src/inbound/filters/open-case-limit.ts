import { openCasesCounted } from '../../tickets/organization.ts';
import { senderProven } from './customer-proof.ts';
import type { Filter } from './types.ts';
import { next } from './types.ts';

/**
 * Open-case limit (MAX_OPEN_CASES_PER_ORG, or an organization's own `maxOpenCases`): a mail that would open one
 * case too many is held, not lost, and the sender is told which cases are open (with their links). A reply on
 * an existing case is never limited.
 *
 * Which open cases count depends on whether the mail proved its sender (openCasesCounted).
 */
export const openCaseLimit: Filter = {
  name: 'open-case-limit',
  run(_mail, ctx, facts) {
    const org = ctx.organization;
    if (
      !org ||
      org.limit === undefined ||
      facts.target ||
      facts.automated ||
      facts.hold ||
      facts.sender?.role !== 'customer'
    )
      return next();
    const count = openCasesCounted(org.open, senderProven(facts));
    if (count < org.limit) return next();
    const open = count === 1 ? '1 caso abierto' : `${count} casos abiertos`;
    return next({ hold: { reason: 'over_limit', detail: `${org.key} tiene ${open} (límite ${org.limit})` } });
  },
};
