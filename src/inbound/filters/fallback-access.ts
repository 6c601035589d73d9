import type { Filter } from './types.ts';
import { next } from './types.ts';
import { mailboxOf } from '../source-key.ts';

/**
 * A customer who cannot log in writes to the fallback address: that is an access problem, priority alta
 * (the guides' "blocking" level). Recognised from the fallback account itself or from the address in To, Cc,
 * Delivered-To or X-Original-To (a shared mailbox where both addresses land).
 */
export const fallbackAccess: Filter = {
  name: 'fallback-access',
  run(mail, ctx) {
    const fallback = ctx.config.fallbackAddress;
    if (mailboxOf(ctx.source) === 'fallback') {
      return next({ access: { priority: 'alta', category: 'acceso', via: 'buzón de respaldo' } });
    }
    if (!fallback) return next();
    const hit = [...mail.to, ...mail.cc].some((a) => a.address === fallback) || mail.deliveredTo.includes(fallback);
    return hit ? next({ access: { priority: 'alta', category: 'acceso', via: fallback } }) : next();
  },
};
