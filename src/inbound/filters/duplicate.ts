import type { Filter } from './types.ts';
import { next } from './types.ts';

/**
 * The same mail twice (a CC to both addresses, a re-delivery, the fallback and the support mailbox) has one
 * effect. `contentHash` ignores trace headers (Received, Delivered-To…), so two deliveries of one message match.
 * A reused Message-ID with different content is not dropped (some clients and list servers reuse them): it goes
 * on, flagged.
 */
export const duplicate: Filter = {
  name: 'duplicate',
  run(mail, ctx) {
    const effective = ctx.previous.filter((p) => p.outcome === 'accepted' || p.outcome === 'ignored');
    const same = effective.find((p) => p.contentHash === mail.contentHash);
    if (same) return { kind: 'stop', outcome: 'ignored', reason: 'duplicate', detail: `igual a ${same.sourceKey}` };
    if (mail.messageId && effective.some((p) => p.messageId === mail.messageId)) return next({ messageIdReused: true });
    return next();
  },
};
