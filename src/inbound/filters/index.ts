import { autoReply } from './auto-reply.ts';
import { automatedRouting } from './automated-routing.ts';
import { bounce } from './bounce.ts';
import { bounceProof } from './bounce-proof.ts';
import { commands } from './commands.ts';
import { consultantAuth } from './consultant-auth.ts';
import { customerProof } from './customer-proof.ts';
import { duplicate } from './duplicate.ts';
import { entitlement } from './entitlement.ts';
import { fallbackAccess } from './fallback-access.ts';
import { followUp } from './follow-up.ts';
import { mailingList } from './mailing-list.ts';
import { openCaseLimit } from './open-case-limit.ts';
import { ownLoop } from './own-loop.ts';
import { quoteStrip } from './quote-strip.ts';
import { senderIdentity } from './sender-identity.ts';
import type { Filter } from './types.ts';

/**
 * The order in which inbound mail is judged: declared here and nowhere else. Cheap, certain verdicts first
 * (duplicate, own loop), then what kind of mail it is (automatic, bounce, list), who sent it, where it goes,
 * and finally what text of it is kept.
 */
export const FILTERS: readonly Filter[] = [
  duplicate,
  ownLoop,
  bounce,
  bounceProof,
  autoReply,
  mailingList,
  senderIdentity,
  consultantAuth,
  customerProof,
  fallbackAccess,
  followUp,
  automatedRouting,
  entitlement,
  openCaseLimit,
  quoteStrip,
  commands,
];
