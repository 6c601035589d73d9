import { createApp, type App } from '../app.ts';
import type { Config } from '../config.ts';
import { hasStat4Samples } from '../db/knex.ts';
import { Scheduler } from '../jobs/scheduler.ts';
import { createLogger } from '../logger.ts';
import { buildServer } from '../web/server.ts';
import { EXIT } from './env.ts';

/** A long-running part of `mesa start`. `stop()` finishes the work in hand and resolves when it is done. */
export interface Service {
  name: string;
  stop(): Promise<void>;
}
export type ServiceFactory = (app: App) => Service | undefined | Promise<Service | undefined>;

/**
 * THE HOOK FOR LONG-RUNNING WORKERS. Everything `mesa start` runs besides the web server is listed here; they
 * start in this order (after migrations, right after the web server listens, so that /healthz answers without
 * waiting for imapflow and the like to load — its mailbox check has a grace period from start-up) and stop in
 * reverse order on SIGINT/SIGTERM. To add one (the outbox dispatcher, the job scheduler), append a factory that
 * starts it and returns `{ name, stop }`; return undefined when its configuration turns it off.
 */
export const services: ServiceFactory[] = [
  // The outbox dispatcher starts first and so stops last: mail caused by the work the others finish still leaves.
  (app) => {
    app.outbound.dispatcher.start();
    return { name: 'outbox-dispatcher', stop: () => app.outbound.dispatcher.stop() };
  },
  async (app) => {
    if (app.config.mailboxes.length === 0) {
      app.logger.warn(
        { component: 'start' },
        'IMAP_HOST no está configurado: no se leerá ningún buzón (use mesa ingest)',
      );
      return undefined;
    }
    // imapflow and the poller load here, after the web server listens: /healthz answers before the IMAP code loads.
    // A mailbox still waiting for its first OAuth2 sign-in is said at start (it is read as soon as someone signs in).
    for (const s of await app.tokens.states().catch(() => [])) {
      if (s.state === 'needs_login' || s.state === 'needs_reauth') {
        const arg = s.mailbox === 'support' ? 'soporte' : 'respaldo';
        app.logger.warn(
          { component: 'start', mailbox: s.mailbox, state: s.state },
          `el buzón de ${arg} espera un inicio de sesión: ejecute mesa mailbox login ${arg}`,
        );
      }
    }
    const { startPollers } = await import('../inbound/index.ts');
    const pollers = startPollers(app, app.config.mailboxes);
    return { name: 'imap-pollers', stop: () => pollers.stop() };
  },
  // The clock-driven lifecycle work (auto-close, SLA lights, held requests, digests) every JOBS_INTERVAL_SECONDS.
  (app) => {
    const scheduler = new Scheduler({
      db: app.db,
      config: app.config,
      cases: app.cases,
      policy: app.policy,
      logger: app.logger,
      blobs: app.blobs,
    });
    scheduler.start();
    return { name: 'jobs', stop: () => scheduler.stop() };
  },
];

/** `mesa start`: migrate, start the services and the web server, run until SIGINT/SIGTERM, then stop cleanly. */
export async function startCommand(config: Config): Promise<number> {
  const logger = createLogger({ level: config.logLevel });
  const log = logger.child({ component: 'start' });
  let app: App;
  try {
    app = await createApp(config, logger);
  } catch (err) {
    log.fatal({ err }, 'no se pudo abrir la base de datos; reintente más tarde');
    return EXIT.TEMPFAIL;
  }
  // Only a warning: the database works as it is, only slower; what an operator did to it is theirs to undo.
  if (await hasStat4Samples(app.db).catch(() => false)) {
    log.warn(
      { database: config.database.filename },
      'la base SQLite tiene estadísticas STAT4 (de ANALYZE o PRAGMA optimize; Mesa no las usa): ' +
        'con ellas cada búsqueda de la entrada cuesta de 3 a 5 veces más. Quítelas con: DELETE FROM sqlite_stat4;',
    );
  }

  const stopSignal = new Promise<string>((resolve) => {
    const onSignal = (sig: string) => {
      // A second signal while we wait for the mail in hand means "now": leave without finishing it.
      process.once('SIGINT', () => process.exit(130));
      process.once('SIGTERM', () => process.exit(143));
      resolve(sig);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });

  const running: Service[] = [];
  const server = buildServer(app);
  try {
    await server.listen({ host: config.http.host, port: config.http.port });
    for (const factory of services) {
      const service = await factory(app);
      if (service) running.push(service);
    }
    // Compile (or read from DATA_DIR/cache) every mail layout, and load the mail parser and the filters, now that
    // /healthz answers, rather than on the first mail (which would otherwise wait for them).
    setImmediate(() => {
      try {
        app.outbound.renderer.warm();
      } catch (err) {
        log.error({ err }, 'plantillas de correo inválidas');
      }
      app.ingest
        .warm()
        .catch((err) =>
          log.error({ err }, 'no se pudo cargar el analizador de correo; se reintentará con el primer correo'),
        );
    });
  } catch (err) {
    const why = listenProblem(err, config);
    log.fatal({ err }, why ? `no se pudo iniciar Mesa: ${why}` : 'no se pudo iniciar Mesa');
    // The log is JSON for machines; whoever typed `mesa start` also gets the reason in one line.
    process.stderr.write(`mesa: no se pudo iniciar: ${why ?? String((err as Error)?.message ?? err).split('\n')[0]}\n`);
    await shutdown();
    return EXIT.SOFTWARE;
  }
  const addr = server.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.http.port;
  const url = `http://${config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host}:${port}`;
  log.info(
    { url, mailboxes: config.mailboxes.map((m) => m.name), services: running.map((s) => s.name) },
    `Mesa en marcha en ${url} (salud: ${url}/healthz)`,
  );

  const signal = await stopSignal;
  log.info({ signal }, 'deteniendo: se termina el correo en curso');
  await shutdown();
  log.info('Mesa detenida');
  // Anything a library left armed must not keep a stopped service alive.
  setTimeout(() => process.exit(EXIT.OK), 2000).unref();
  return EXIT.OK;

  async function shutdown() {
    await server.close().catch((err) => log.warn({ err }, 'cierre del servidor web'));
    for (const service of [...running].reverse()) {
      await service
        .stop()
        .catch((err) => log.error({ err, service: service.name }, 'el servicio no se detuvo limpiamente'));
    }
    await app.close();
  }
}

/** The web server's address could not be taken: said with the key that sets it. */
function listenProblem(err: unknown, config: Config): string | undefined {
  const code = (err as { code?: string })?.code;
  const where = `${config.http.host}:${config.http.port}`;
  if (code === 'EADDRINUSE') return `el puerto ${where} ya está en uso (¿otra instancia de Mesa?); cambie HTTP_PORT`;
  if (code === 'EACCES') return `no hay permiso para escuchar en ${where}; use un HTTP_PORT mayor que 1024`;
  if (code === 'EADDRNOTAVAIL') return `${config.http.host} no es una dirección de esta máquina; revise HTTP_HOST`;
  return undefined;
}
