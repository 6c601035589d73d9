import { loopToken } from '../../mail/loop-token.ts';
import { header } from '../mail.ts';
import type { Filter } from './types.ts';
import { next } from './types.ts';

/**
 * Our own outbound mail coming back (a consultant CC'ing the support address, a forwarding rule, a list that
 * echoes) must never become a case or a reply: that is how help-desk mail loops start.
 */
export const ownLoop: Filter = {
  name: 'own-loop',
  run(mail, ctx) {
    const marker = header(mail, 'x-mesa-loop');
    if (marker && marker.trim() === loopToken(ctx.config)) {
      return { kind: 'stop', outcome: 'ignored', reason: 'own_loop', detail: 'X-Mesa-Loop propio' };
    }
    const from = mail.from?.address;
    if (from && (from === ctx.config.supportAddress || from === ctx.config.fallbackAddress)) {
      return { kind: 'stop', outcome: 'ignored', reason: 'own_loop', detail: `remitente propio ${from}` };
    }
    return next();
  },
};
