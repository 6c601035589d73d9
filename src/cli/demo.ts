import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import dotenv from 'dotenv';
import { simpleParser } from 'mailparser';
import { DEMO_SAMPLES_DIR } from '../paths.ts';
import { prepareDataDir } from '../directories.ts';
import { configFromEnvironment, EXIT } from './env.ts';
import { ingestCommand, showCommand, ticketsCommand, withApp } from './commands.ts';

const SAMPLES = DEMO_SAMPLES_DIR;

/**
 * `mesa demo`: the whole inbound path on one machine, no mail server. Uses DATA_DIR (default ./data) and demo
 * values for whatever .env does not set, ingests the sample mails and shows the resulting cases.
 */
export async function demoCommand(opts: { serve?: boolean } = {}): Promise<number> {
  process.env.LOG_LEVEL ??= 'warn';
  // The .env of this folder, if any (the environment wins), read before the demo writes anything here.
  dotenv.config({ quiet: true } as dotenv.DotenvConfigOptions);
  const real = realDeskKeys(process.env);
  if (real.length) {
    process.stderr.write(
      `mesa demo no corre aquí: esta configuración es la de una mesa real (${real.join(', ')}). La demo procesa ` +
        'correos de ejemplo: abriría sus casos en esta base y enviaría de verdad sus confirmaciones y avisos.\n' +
        'Pruébela en una carpeta aparte, sin .env:\n' +
        `  mkdir -p /tmp/mesa-demo && cd /tmp/mesa-demo && node ${process.argv[1] ?? 'dist/src/cli.js'} demo\n`,
    );
    return EXIT.CONFIG;
  }
  const wroteEnv = writeDemoEnv();
  const { config, keyFile } = demoConfig();
  if (wroteEnv)
    process.stdout.write('Se creó .env con valores de demostración (edítelo para su buzón real; ver .env.example).\n');
  if (keyFile)
    process.stdout.write(
      `Su .env no define SECRET_KEY: la demo usa una clave aleatoria propia, guardada en ${keyFile}. ` +
        'Para "mesa start", defina SECRET_KEY en .env (openssl rand -hex 32).\n',
    );

  const files = fs
    .readdirSync(SAMPLES)
    .filter((f) => f.endsWith('.eml'))
    .sort()
    .map((f) => path.join(SAMPLES, f));
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
  process.stdout.write(
    `\nCorreos de salida (confirmaciones, avisos a consultores): ${sent}, como archivos .eml en ${emlDir}\n`,
  );
  if (confirmation) {
    process.stdout.write(`La confirmación del caso #1 está en ${confirmation.file}\n`);
    if (confirmation.link)
      process.stdout.write(
        'Su enlace «Consultar mi caso»' +
          (opts.serve ? '' : ' (con "npx mesa start" o "npx mesa demo --serve" en marcha)') +
          `: ${confirmation.link}\n`,
      );
  }
  process.stdout.write(
    '\nDónde mirar: "npx mesa tickets", "npx mesa show N", "npx mesa quarantine", "npx mesa outbox"; ' +
      `los datos están en ${config.dataDir}.\n`,
  );
  if (!opts.serve) return 0;
  process.stdout.write('\nPágina de estado en marcha (Ctrl-C para salir).\n');
  const { startCommand } = await import('./start.ts');
  return startCommand(config);
}

/**
 * Without a .env, the demo writes one with its values (and a fresh SECRET_KEY), so that `mesa tickets`, `mesa show`
 * and `mesa start` afterwards see the same data and accept the links the demo mailed. An existing .env is never
 * touched.
 */
function writeDemoEnv(): boolean {
  const file = path.resolve('.env');
  if (fs.existsSync(file)) return false;
  const lines = [
    '# Valores de demostración escritos por `mesa demo`. Vea .env.example para conectar un buzón real.',
    ...Object.entries(DEMO_VALUES).map(([k, v]) => `${k}="${v}"`),
    `SECRET_KEY=${crypto.randomBytes(32).toString('hex')}`,
    '',
  ];
  try {
    fs.writeFileSync(file, lines.join('\n'), { flag: 'wx', mode: 0o600 });
    return true;
  } catch {
    return false; // read-only checkout, or another process wrote it first: the demo still runs with its defaults
  }
}

/**
 * The keys that make this a working desk rather than the demo's: mail really sent, mailboxes read, a shared database.
 * The demo's sample mails (a customer at ferreteria-andina.co, a consultant) must reach none of them, and its .env
 * must not land beside them. Only the names are read here; config.ts validates the values as always.
 */
function realDeskKeys(env: NodeJS.ProcessEnv): string[] {
  const set = (k: string) => Boolean(env[k]?.trim());
  return [
    ...['SMTP_HOST', 'IMAP_HOST', 'FALLBACK_IMAP_HOST'].filter(set),
    ...['SUPPORT_MAILBOX_TRANSPORT', 'FALLBACK_MAILBOX_TRANSPORT']
      .filter((k) => env[k]?.trim() === 'graph')
      .map((k) => `${k}=graph`),
    ...(/^postgres(ql)?:/i.test(env.DATABASE_URL?.trim() ?? '') ? ['DATABASE_URL'] : []),
  ];
}

/** No SECRET_KEY here: a key printed in the sources would sign the links of every installation that fell back on it. */
const DEMO_VALUES = {
  SUPPORT_ADDRESS: 'soporte@mesa-demo.example',
  SUPPORT_NAME: 'Soporte Demo',
  FALLBACK_ADDRESS: 'no-puedo-entrar@mesa-demo.example',
  CONSULTANTS: 'ana.consultora@mesa-demo.example',
};

/**
 * Demo values for whatever .env does not set (the real environment and .env still win). An existing .env without
 * SECRET_KEY gets a random key of the demo's own, kept in its data folder (DATA_DIR/demo-secret-key) so that the
 * links of one demo still open on the next; it is never used outside the demo.
 */
function demoConfig(): { config: ReturnType<typeof configFromEnvironment>; keyFile?: string } {
  dotenv.config({ quiet: true } as dotenv.DotenvConfigOptions);
  if (process.env.SECRET_KEY) return { config: configFromEnvironment(DEMO_VALUES) };
  const keyFile = path.resolve(process.env.DATA_DIR || './data', 'demo-secret-key');
  return { config: configFromEnvironment({ ...DEMO_VALUES, SECRET_KEY: demoKey(keyFile) }), keyFile };
}

function demoKey(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    prepareDataDir(path.dirname(file));
    const key = crypto.randomBytes(32).toString('hex');
    fs.writeFileSync(file, `${key}\n`, { mode: 0o600 });
    return key;
  }
}

/** The confirmation mail of case #1 among the written .eml files, and the status-page link in it. */
async function firstConfirmation(dir: string): Promise<{ file: string; link?: string } | undefined> {
  for (const name of fs.readdirSync(dir).sort()) {
    const file = path.join(dir, name);
    const mail = await simpleParser(fs.readFileSync(file));
    const to = Array.isArray(mail.to) ? mail.to[0] : mail.to;
    if (!mail.subject?.startsWith('[Caso #1]') || !to?.value.some((a) => a.address?.startsWith('juan.perez@')))
      continue;
    const link = /https?:\/\/\S+\/caso\/\S+/.exec(mail.text ?? '')?.[0];
    return { file, link };
  }
  return undefined;
}
