import crypto from 'node:crypto';
import type { Config } from '../config.ts';

/** The marker our outbound mail carries (header X-Mesa-Loop); derived from SECRET_KEY so that it is ours. */
export function loopToken(config: Pick<Config, 'secretKey'>): string {
  return crypto.createHmac('sha256', config.secretKey).update('mesa-loop-v1').digest('hex').slice(0, 24);
}
