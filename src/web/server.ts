import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { App } from '../app.ts';
import { pingDatabase } from '../db/repos/monitoring.ts';
import { MAILBOX_ARGUMENT, STATE_TEXT } from '../mailboxes/explain.ts';
import { lastReads, mailboxStatuses } from '../mailboxes/status.ts';
import { registerMetrics } from './metrics.ts';
import { monitoringAccess } from './monitoring-access.ts';
import { slaLight } from './sla-light.ts';
import { registerStatusPage, type StatusPageOptions } from './status-page.ts';
import { strings } from './i18n.ts';
import { messagePage, notFoundPage } from './views/pages.ts';

/**
 * The web adapter: `/healthz`, the status page («Consultar mi caso», status-page.ts) and `/metrics`.
 * Routes only read through repositories/services: adapters are thin (docs/ARCHITECTURE.md).
 */
export function buildServer(app: App, opts: { statusPage?: StatusPageOptions } = {}): FastifyInstance {
  const bad = pagesForBadRequests(app);
  const server = Fastify({
    loggerInstance: app.logger.child({ component: 'web' }) as FastifyBaseLogger,
    // /healthz is hit by probes every few seconds: request lines would drown the mail outcomes in the log.
    // (And request lines would carry magic-link tokens in their URLs: the status page must never log those.)
    logController: new LogController({ disableRequestLogging: true }),
    // TRUST_PROXY: behind a balancer, the client's address comes from X-Forwarded-For (the per-IP limits need it).
    trustProxy: trustProxyOption(app.config.web.trustProxy),
    // The router's own refusals (FST_ERR_BAD_URL, FST_ERR_MAX_PARAM_LENGTH): no route of Mesa's has such a path.
    frameworkErrors: (_err, _req, reply) => bad.notFound(reply),
  });
  const startedAt = Date.now();

  /** 200 when the database answers, 503 otherwise; each mailbox's last good read and last error. */
  // The detail (mailboxes, their folders and errors) only to the private networks or with MONITORING_TOKEN.
  const monitoring = monitoringAccess(app.config.web.monitoringToken);
  server.get('/healthz', async (req, reply) => {
    const detailed = monitoring(req);
    try {
      await withTimeout(pingDatabase(app.db), 3000);
      const reads = await lastReads(app);
      const credentials = new Map((await mailboxStatuses(app)).map((c) => [c.mailbox, c]));
      const now = Date.now();
      const mailboxes = app.config.mailboxes.map((mb) => {
        const s = reads.get(mb.name);
        const c = credentials.get(mb.name)!;
        return {
          name: mb.name,
          folder: mb.mailbox,
          lastSuccessAt: s?.lastSuccessAt ? new Date(s.lastSuccessAt).toISOString() : null,
          lastError: s?.lastError ?? null,
          stale: isStale(s?.lastSuccessAt, mb.pollSeconds, startedAt, now),
          credential: {
            kind: c.kind,
            state: c.state,
            expiresAt: c.expiresAt ?? null,
            lastErrorCode: c.lastErrorCode ?? null,
          },
        };
      });
      // A mailbox whose OAuth2 grant is gone (or never given) is not read until someone signs in: said by name at once,
      // without waiting for it to go stale.
      const problems = mailboxes
        .filter((m) => m.credential.state === 'needs_reauth' || m.credential.state === 'needs_login')
        .map(
          (m) =>
            `${MAILBOX_ARGUMENT[m.name]}: ${STATE_TEXT[m.credential.state]}` +
            (m.credential.lastErrorCode ? ` (${m.credential.lastErrorCode})` : ''),
        );
      // Readiness: a mailbox that has not completed a read for several poll intervals (bad password, server down,
      // a stuck connection) makes the instance not ready, so a probe or a person notices the mail is not coming in.
      const ready = mailboxes.every((m) => !m.stale) && problems.length === 0;
      if (!detailed) return reply.code(ready ? 200 : 503).send({ status: ready ? 'ok' : 'degraded' });
      return reply.code(ready ? 200 : 503).send({
        status: ready ? 'ok' : 'degraded',
        database: 'ok',
        mailboxes,
        ...(problems.length ? { problems } : {}),
      });
    } catch (err) {
      server.log.warn({ err }, 'healthz: la base de datos no responde');
      return reply
        .code(503)
        .send(detailed ? { status: 'error', database: 'error', mailboxes: [] } : { status: 'error' });
    }
  });

  // Issue 4: "Consultar mi caso" behind the magic links, and Prometheus metrics.
  registerStatusPage(server, app, { sla: slaLight(app, opts.statusPage?.clock), ...opts.statusPage });
  registerMetrics(server, app, monitoring);
  server.setNotFoundHandler(async (_req, reply) => bad.notFound(reply));
  server.setErrorHandler(async (err: { statusCode?: number }, req, reply) => {
    const status = Number(err.statusCode) || 500;
    if (status >= 500) req.log.error({ err }, 'error en una petición web');
    return status === 404 ? bad.notFound(reply) : bad.error(reply, status);
  });

  return server;
}

/**
 * Outside the case page's own scope (a mistyped address; a link that a mail client cut, padded or mangled until its
 * token is longer than any Mesa issues or not a valid URL): the page a customer sees for a bad link, in the desk's
 * language, never fastify's English JSON with the requested URL echoed back.
 */
function pagesForBadRequests(app: App) {
  const s = strings(app.config.locale);
  const brand = app.config.supportName;
  const page = (reply: FastifyReply, code: number, body: string) =>
    reply.code(code).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);
  const notFound = (reply: FastifyReply) => page(reply, 404, notFoundPage(s, brand, app.config.supportAddress));
  return {
    notFound,
    error: (reply: FastifyReply, status: number) =>
      page(reply, status >= 500 ? 500 : status, messagePage({ s, brand, title: s.error, text: s.error })),
  };
}

/** TRUST_PROXY as fastify takes it: a number of hops as the function fastify itself builds for one (hop i < n). */
function trustProxyOption(
  v: App['config']['web']['trustProxy'],
): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof v === 'number') return (_address, hop) => hop < v;
  return typeof v === 'boolean' ? v : [...v];
}

function withTimeout<T>(p: PromiseLike<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`sin respuesta en ${ms} ms`)), ms);
    Promise.resolve(p).then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

/** Every poll cycle (IDLE or not) ends with a full read that records lastSuccessAt, at least every pollSeconds. A
 * mailbox is stale when that has not happened for three intervals (at least three minutes), counted from start-up
 * at the earliest so that a restart is not reported as an outage. */
export function isStale(
  lastSuccessAt: number | undefined,
  pollSeconds: number,
  startedAt: number,
  now: number,
): boolean {
  const allowance = Math.max(3 * pollSeconds * 1000, 180_000);
  return now - Math.max(lastSuccessAt ?? 0, startedAt) > allowance;
}
