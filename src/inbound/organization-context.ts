import type { Queryable } from '../db/sql.ts';
import { countOpenTicketsInTurn } from '../db/repos/lifecycle.ts';
import type { Policy } from '../policy/policy.ts';
import { organizationOf } from '../tickets/organization.ts';
import type { OrganizationFacts } from './filters/types.ts';
import type { InboundMail } from './mail.ts';

/** Read up front for the entitlement and open-case-limit filters (which stay pure): the sender's organization,
 * whether it may file cases, its limit and how many cases it has open. */
export async function organizationFacts(
  db: Queryable,
  policy: Policy,
  mail: InboundMail,
): Promise<OrganizationFacts | undefined> {
  const who = mail.from ?? mail.replyTo[0];
  if (!who) return undefined;
  const key = organizationOf(who.address);
  const limit = policy.maxOpenCases(key);
  // Counted in turn with every other opening for this organization (its lock lasts until this batch commits).
  const open = limit === undefined ? { open: 0, proven: 0 } : await countOpenTicketsInTurn(db, key);
  return { key, entitled: policy.isEntitled(key), limit, open };
}
