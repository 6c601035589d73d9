import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { simpleParser } from 'mailparser';
import { configFromEnvironment } from './env.ts';
import { ingestCommand, showCommand, ticketsCommand, withApp } from './commands.ts';

const SAMPLES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../demo/samples');

/**
 * `mesa demo`: the whole inbound path on one machine, no mail server. Uses DATA_DIR (default ./data) and demo
 * values for whatever .env does not set, ingests the sample mails and shows the resulting cases.
 */
export async function demoCommand(opts: { serve?: boolean } = {}): Promise<number> {
  process.env.LOG_LEVEL ??= 'warn';
  const config = demoConfig();

  const files = fs.readdirSync(SAMPLES).filter((f) => f.endsWith('.eml')).sort().map((f) => path.join(SAMPLES, f));
  process.stdout.write(`Mesa demo: ${files.length} correos de ejemplo → ${config.database.url}\n\n`);
  await ingestCommand(config, files, { progress: false });
  // Without SMTP_HOST the outbox writes each mail as an .eml file: send what the samples caused, now.
  const sent = await withApp(config, (app) => app.outbound.dispatcher.drain());
  const emlDir = path.join(config.dataDir, 'outbox-eml');
  const confirmation = fs.existsSync(emlDir) ? await firstConfirmation(emlDir) : undefined;
  process.stdout.write('\nCasos:\n');
  await ticketsCommand(config, {});
  process.stdout.write('\nEl caso #1 completo:\n');
  await showCommand(config, '1', {});
  process.stdout.write(`\nCorreos de salida (confirmaciones, avisos a consultores): ${sent}, como archivos .eml en ${emlDir}\n`);
  if (confirmation) {
    process.stdout.write(`La confirmación del caso #1 está en ${confirmation.file}\n`);
    if (confirmation.link) process.stdout.write(`Su enlace «Consultar mi caso»${opts.serve ? '' : ' (con "npx mesa demo --serve")'}: ${confirmation.link}\n`);
  }
  process.stdout.write(`\nDónde mirar: "npx mesa tickets", "npx mesa show N", "npx mesa quarantine", "npx mesa outbox"; los datos están en ${config.dataDir}.\n`);
  if (!opts.serve) return 0;
  process.stdout.write('\nPágina de estado en marcha (Ctrl-C para salir).\n');
  const { startCommand } = await import('./start.ts');
  return startCommand(config);
}

/** Demo values for whatever .env does not set (the real environment and .env still win). */
function demoConfig() {
  return configFromEnvironment({
    SUPPORT_ADDRESS: 'soporte@mesa-demo.example',
    SUPPORT_NAME: 'Soporte Demo',
    FALLBACK_ADDRESS: 'no-puedo-entrar@mesa-demo.example',
    CONSULTANTS: 'ana.consultora@mesa-demo.example',
    SECRET_KEY: 'demo-secret-key-only-for-mesa-demo-0123456789',
  });
}

/** The confirmation mail of case #1 among the written .eml files, and the status-page link in it. */
async function firstConfirmation(dir: string): Promise<{ file: string; link?: string } | undefined> {
  for (const name of fs.readdirSync(dir).sort()) {
    const file = path.join(dir, name);
    const mail = await simpleParser(fs.readFileSync(file));
    const to = Array.isArray(mail.to) ? mail.to[0] : mail.to;
    if (!mail.subject?.startsWith('[Caso #1]') || !to?.value.some((a) => a.address?.startsWith('juan.perez@'))) continue;
    const link = /https?:\/\/\S+\/caso\/\S+/.exec(mail.text ?? '')?.[0];
    return { file, link };
  }
  return undefined;
}
