import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { App } from '../app.ts';
import { listMailboxStates } from '../db/repos/mailbox-state.ts';
import { stateKey } from '../inbound/poller.ts';
import { registerMetrics } from './metrics.ts';
import { slaLight } from './sla-light.ts';
import { registerStatusPage, type StatusPageOptions } from './status-page.ts';

/**
 * The web adapter. For now only `/healthz`; the status pages are built on this same instance later.
 * Routes only read through repositories/services (DESIGN.md: adapters are thin).
 */
export function buildServer(app: App, opts: { statusPage?: StatusPageOptions } = {}): FastifyInstance {
  const server = Fastify({
    loggerInstance: app.logger.child({ component: 'web' }) as FastifyBaseLogger,
    // /healthz is hit by probes every few seconds: request lines would drown the mail outcomes in the log.
    disableRequestLogging: true,
  });

  /** 200 when the database answers, 503 otherwise; each mailbox's last good read and last error. */
  server.get('/healthz', async (_req, reply) => {
    try {
      await withTimeout(app.db.raw('select 1'), 3000);
      const states = new Map((await listMailboxStates(app.db)).map((s) => [s.name, s]));
      const mailboxes = app.config.mailboxes.map((mb) => {
        const s = states.get(stateKey(mb));
        return {
          name: mb.name,
          folder: mb.mailbox,
          lastSuccessAt: s?.lastSuccessAt ? new Date(s.lastSuccessAt).toISOString() : null,
          lastError: s?.lastError ?? null,
        };
      });
      return reply.code(200).send({ status: 'ok', database: 'ok', mailboxes });
    } catch (err) {
      server.log.warn({ err }, 'healthz: la base de datos no responde');
      return reply.code(503).send({ status: 'error', database: 'error', mailboxes: [] });
    }
  });

  // Issue 4: "Consultar mi caso" behind the magic links, and Prometheus metrics.
  registerStatusPage(server, app, { sla: slaLight(app, opts.statusPage?.clock), ...opts.statusPage });
  registerMetrics(server, app);

  return server;
}

function withTimeout<T>(p: PromiseLike<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`sin respuesta en ${ms} ms`)), ms);
    Promise.resolve(p).then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
  });
}
