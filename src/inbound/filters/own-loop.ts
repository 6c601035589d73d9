import crypto from 'node:crypto';
import type { Config } from '../../config.ts';
import { header } from '../mail.ts';
import type { Filter } from './types.ts';
import { next } from './types.ts';

/** The marker our outbound mail carries (header X-Mesa-Loop); derived from SECRET_KEY so that it is ours. */
export function loopToken(config: Pick<Config, 'secretKey'>): string {
  return crypto.createHmac('sha256', config.secretKey).update('mesa-loop-v1').digest('hex').slice(0, 24);
}

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
