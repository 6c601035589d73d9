#!/usr/bin/env node
import { Command } from 'commander';
import { configFromEnvironment, EXIT } from './cli/env.ts';
import { speakSpanish } from './cli/spanish.ts';
import { mesaVersion } from './paths.ts';

// Stack traces of the build (dist/) name src/ files and lines; the build writes the source maps.
process.setSourceMapsEnabled(true);

/**
 * The `mesa` command line. Each command is a thin adapter over a service: it reads its arguments, calls the service,
 * prints the result; the rules live in the services.
 */
const program = speakSpanish(new Command())
  .name('mesa')
  .description('Mesa: mesa de ayuda por correo electrónico')
  .version(mesaVersion(), '-V, --version', 'muestra la versión de Mesa')
  .showHelpAfterError()
  // A mistyped command or option is a usage error (sysexits EX_USAGE), as Mesa's own argument checks say it; help
  // asked for is not an error.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? EXIT.OK : EXIT.USAGE));

// A report read by `head` or `less` and closed early: the rest has nowhere to go. Stop quietly, as `cat` does, instead
// of an unhandled EPIPE with its stack. What was committed stays and the rest was not written: the ingestion ledger
// lets a rerun go on from there. Not for `mesa start`, whose output is its log, not a report.
program.hook('preAction', (_program, command) => {
  if (command.name() === 'start') return;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(EXIT.PIPE);
  });
});

/** SQLSTATE 3D000 (no such database), 28000/28P01 (role or password refused); ENOTFOUND: no such host. */
const DATABASE_SETUP = new Set(['3D000', '28000', '28P01', 'ENOTFOUND']);

const run = (fn: () => Promise<number>) => async () => {
  process.exitCode = await fn();
};

program
  .command('migrate')
  .description('crea o actualiza las tablas de la base de datos')
  .action(
    run(async () => {
      const config = configFromEnvironment();
      const { openDatabase } = await import('./db/knex.ts');
      const { migrateLatest } = await import('./db/migrate.ts');
      const db = openDatabase(config.database);
      try {
        const applied = await migrateLatest(db);
        process.stdout.write(
          applied.length ? `Migraciones aplicadas: ${applied.join(', ')}\n` : 'La base de datos ya está al día.\n',
        );
      } finally {
        await db.destroy();
      }
      return EXIT.OK;
    }),
  );

program
  .command('ingest')
  .description('procesa correos: archivos .eml, carpetas, mbox, Maildir, o "-" para uno por la entrada estándar')
  .argument('[entradas...]', 'archivos o carpetas ("-" = entrada estándar)')
  .option('--no-progress', 'sin barra de progreso')
  .action(async (inputs: string[], opts) => {
    const { ingestCommand } = await import('./cli/commands.ts');
    process.exitCode = await ingestCommand(configFromEnvironment(), inputs, opts);
  });

program
  .command('tickets')
  .description('lista los casos')
  .option('--json', 'salida JSON')
  .option('--open', 'solo los casos abiertos')
  .action(async (opts) => {
    const { ticketsCommand } = await import('./cli/commands.ts');
    process.exitCode = await ticketsCommand(configFromEnvironment(), opts);
  });

program
  .command('show')
  .description('muestra un caso con su conversación')
  .argument('<número>', 'número del caso')
  .option('--json', 'salida JSON')
  .action(async (number: string, opts) => {
    const { showCommand } = await import('./cli/commands.ts');
    process.exitCode = await showCommand(configFromEnvironment(), number, opts);
  });

program
  .command('participants')
  .description(
    'lista las personas de un caso y cómo se agregó cada una; --remove quita a una (sus enlaces dejan de servir)',
  )
  .argument('<número>', 'número del caso')
  .option('--remove <correo>', 'quita esta dirección del caso')
  .option('--json', 'salida JSON')
  .action(async (number: string, opts) => {
    const { participantsCommand } = await import('./cli/participants.ts');
    process.exitCode = await participantsCommand(configFromEnvironment(), number, opts);
  });

program
  .command('quarantine')
  .description('lista los correos en cuarentena y el motivo')
  .option('--json', 'salida JSON')
  .option('--all', 'incluye los ya reprocesados')
  .action(async (opts) => {
    const { quarantineCommand } = await import('./cli/commands.ts');
    process.exitCode = await quarantineCommand(configFromEnvironment(), opts);
  });

program
  .command('replay')
  .description('vuelve a procesar un correo en cuarentena (o todos)')
  .argument('[id]', 'ID de la cuarentena')
  .action(async (id: string | undefined) => {
    const { replayCommand } = await import('./cli/commands.ts');
    process.exitCode = await replayCommand(configFromEnvironment(), id);
  });

program
  .command('demo')
  .description('demostración sin servidor de correo: procesa correos de ejemplo en SQLite y muestra los casos')
  .option('--serve', 'después, deja en marcha la página "Consultar mi caso" con la configuración de la demo')
  .action(async (opts) => {
    const { demoCommand } = await import('./cli/demo.ts');
    process.exitCode = await demoCommand(opts);
  });

program
  .command('jobs')
  .description('ejecuta una vez las tareas por reloj: avisos y cierres automáticos, semáforo SLA, resúmenes diarios')
  .option('--now <iso>', 'como si fuera este momento (ISO 8601 con zona), p. ej. 2026-11-25T10:00:00-05:00')
  .option('--json', 'salida JSON')
  .action(async (opts) => {
    const { jobsCommand } = await import('./cli/jobs.ts');
    process.exitCode = await jobsCommand(configFromEnvironment(), opts);
  });

program
  .command('held')
  .description('lista las solicitudes retenidas (límite de casos abiertos, organización no habilitada)')
  .option('--json', 'salida JSON')
  .option('--all', 'incluye las ya abiertas como caso')
  .action(async (opts) => {
    const { heldCommand } = await import('./cli/jobs.ts');
    process.exitCode = await heldCommand(configFromEnvironment(), opts);
  });

program
  .command('start')
  .description('servicio: lee los buzones IMAP, atiende /healthz; se detiene con SIGINT/SIGTERM')
  .action(async () => {
    const { startCommand } = await import('./cli/start.ts');
    process.exitCode = await startCommand(configFromEnvironment());
  });

program
  .command('gc')
  .description(
    'borra los archivos adjuntos y originales que ningún caso ni correo nombra (más viejos que BLOB_GC_GRACE_HOURS)',
  )
  .option('--json', 'salida JSON')
  .action(async (opts) => {
    const { gcCommand } = await import('./cli/gc.ts');
    process.exitCode = await gcCommand(configFromEnvironment(), opts);
  });

program
  .command('outbox')
  .description('bandeja de salida: correo pendiente, muerto o retenido (--retry reintenta los muertos)')
  .option('--retry', 'vuelve a poner en cola el correo muerto')
  .option('--send', 'envía ahora lo que esté pendiente y termina')
  .option('--json', 'salida JSON')
  .action(async (opts) => {
    const { outboxCommand } = await import('./cli/outbox.ts');
    process.exitCode = await outboxCommand(configFromEnvironment(), opts);
  });

const mailbox = program.command('mailbox').description('buzones: inicio de sesión OAuth2 y estado de sus credenciales');
mailbox
  .command('login')
  .description('conecta un buzón OAuth2 (Microsoft 365, Google, OIDC): muestra un código y una dirección, y espera')
  .argument('<buzón>', 'soporte o respaldo')
  .action(async (name: string) => {
    const { loginCommand } = await import('./cli/mailbox.ts');
    process.exitCode = await loginCommand(configFromEnvironment(), name);
  });
mailbox
  .command('doctor')
  .description('comprueba de una vez el token, los permisos, IMAP y SMTP de un buzón, y dice qué corregir')
  .argument('<buzón>', 'soporte o respaldo')
  .action(async (name: string) => {
    const { doctorCommand } = await import('./cli/mailbox-doctor.ts');
    process.exitCode = await doctorCommand(configFromEnvironment(), name);
  });
mailbox
  .command('status')
  .description('tipo de credencial, estado, vencimiento y último error de cada buzón')
  .option('--json', 'salida JSON')
  .action(async (opts) => {
    const { statusCommand } = await import('./cli/mailbox.ts');
    process.exitCode = await statusCommand(configFromEnvironment(), opts);
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // What escapes a command is infrastructure (the database or DATA_DIR not there) or a bug. Either way the mail
  // must not be lost: EX_TEMPFAIL makes an MTA piping into `mesa ingest -` keep it and retry (as RT's mailgate).
  const { isMesaError, isRetryable } = await import('./errors.ts');
  const retry = isRetryable(err);
  const reason = String((err as Error)?.message ?? err)
    .split('\n')[0]
    .slice(0, 300);
  // The server answered and refused this database or role (PostgreSQL's SQLSTATE), or the host has no address: not
  // load or an outage but DATABASE_URL. Still EX_TEMPFAIL, so an MTA keeps the mail until it is corrected.
  const code = String((err as { code?: string })?.code ?? '');
  const what = DATABASE_SETUP.has(code)
    ? 'no se pudo conectar a la base de datos (revise DATABASE_URL)'
    : retry
      ? 'fallo temporal, reintente más tarde'
      : 'error';
  // A DATA_DIR that cannot be a folder says so itself (src/directories.ts); still 75, like DATABASE_URL.
  if (isMesaError(err, 'DATA_DIR_UNUSABLE')) process.stderr.write(`mesa: ${reason}\nRevise DATA_DIR (.env).\n`);
  else process.stderr.write(`mesa: ${what}: ${reason}\n`);
  // exit() rather than exitCode: a pool opened before the failure would otherwise keep the process alive.
  process.exit(retry ? EXIT.TEMPFAIL : EXIT.SOFTWARE);
}
