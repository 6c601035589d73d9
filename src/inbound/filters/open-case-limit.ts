import { senderProven } from './customer-proof.ts';
import type { Filter } from './types.ts';
import { next } from './types.ts';

/**
 * Open-case limit (MAX_OPEN_CASES_PER_ORG, or an organization's own `maxOpenCases`): a mail that would open one
 * case too many is held, not lost, and the sender is told which cases are open (with their links). A reply on
 * an existing case is never limited.
 *
 * Anyone can write `From: someone@the-organization`: counted alike, a few such mails would fill the limit and hold
 * back every real customer of it. A mail that proves its sender (customer-proof.ts) is counted only against the cases
 * opened by mail that proved its sender too; one that proves nothing, against all of them, as before.
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
    const count = senderProven(facts) ? org.provenOpenCount : org.openCount;
    if (count < org.limit) return next();
    const open = count === 1 ? '1 caso abierto' : `${count} casos abiertos`;
    return next({ hold: { reason: 'over_limit', detail: `${org.key} tiene ${open} (límite ${org.limit})` } });
  },
};
