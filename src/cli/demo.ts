import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configFromEnvironment } from './env.ts';
import { ingestCommand, showCommand, ticketsCommand } from './commands.ts';

const SAMPLES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../demo/samples');

/**
 * `mesa demo`: the whole inbound path on one machine, no mail server. Uses DATA_DIR (default ./data) and demo
 * values for whatever .env does not set, ingests the sample mails and shows the resulting cases.
 */
export async function demoCommand(): Promise<number> {
  process.env.LOG_LEVEL ??= 'warn';
  const config = configFromEnvironment({
    SUPPORT_ADDRESS: 'soporte@mesa-demo.example',
    SUPPORT_NAME: 'Soporte Demo',
    FALLBACK_ADDRESS: 'no-puedo-entrar@mesa-demo.example',
    CONSULTANTS: 'ana.consultora@mesa-demo.example',
    SECRET_KEY: 'demo-secret-key-only-for-mesa-demo-0123456789',
  });
  const files = fs.readdirSync(SAMPLES).filter((f) => f.endsWith('.eml')).sort().map((f) => path.join(SAMPLES, f));
  process.stdout.write(`Mesa demo: ${files.length} correos de ejemplo → ${config.database.url}\n\n`);
  await ingestCommand(config, files, { progress: false });
  process.stdout.write('\nCasos:\n');
  await ticketsCommand(config, {});
  process.stdout.write('\nEl caso #1 completo:\n');
  await showCommand(config, '1', {});
  process.stdout.write(`\nDónde mirar: "npx mesa tickets", "npx mesa show N", "npx mesa quarantine"; los datos están en ${config.dataDir}.\n`);
  return 0;
}
