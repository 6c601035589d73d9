import type { Config } from '../config.ts';
import { EXIT } from './env.ts';

/** Placeholder until the poller lands: see src/inbound/poller.ts. */
export async function startCommand(_config: Config): Promise<number> {
  process.stderr.write('mesa start: aún no implementado\n');
  return EXIT.SOFTWARE;
}
