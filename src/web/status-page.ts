import crypto from 'node:crypto';
import fs from 'node:fs';
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import multipart from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { App } from '../app.ts';
import { STATUS_PAGE_CSS } from '../paths.ts';
import type { LinkService } from '../links/links.ts';
import { LINK_PATH } from '../links/tokens.ts';
import { PortalService } from '../services/portal.ts';
import type { Access, LinkMailer } from '../services/portal-types.ts';
import type { Ticket } from '../tickets/types.ts';
import { formatBytes, strings, type Strings } from './i18n.ts';
import { closeAfterAnswer } from './linger.ts';
import { READ_SCRIPT_HASH, casePage, type PageError } from './views/case-page.ts';
import { registerCaseRoutes } from './case-routes.ts';
import { registerConsultantList } from './consultant-list-route.ts';
import { lostLinkPage, messagePage, notFoundPage } from './views/pages.ts';
import { databaseRateLimitStore } from './rate-limit-store.ts';
import { MAX_FILES_PER_MESSAGE } from './upload.ts';
import { cutText } from '../text-cut.ts';

/**
 * "Consultar mi caso" (issue 4): the page behind the magic links, and "Perdí mi enlace". Everything here is
 * registered in its own encapsulated scope, so the security headers, cookies and body parsers apply to these
 * routes only (not to /healthz or /metrics).
 *
 * Token hygiene: the token is in the path, so it must never reach a log (the server runs with request logging
 * off and the logger redacts `req.url`; this scope logs no URL), a Referer (`Referrer-Policy: no-referrer`) or a
 * cache (`Cache-Control: no-store`).
 */

export interface StatusPageOptions {
  /** Queues the fresh-link and lost-link mails; the outbound side provides it. */
  mailer?: LinkMailer;
  /** The SLA light of a case, once the lifecycle side provides it. */
  sla?: (ticket: Ticket) => Promise<'green' | 'yellow' | 'red' | undefined>;
  links?: LinkService;
  clock?: () => number;
}

const CSS = fs.readFileSync(STATUS_PAGE_CSS);
const CSS_ETAG = `"${crypto.createHash('sha256').update(CSS).digest('hex').slice(0, 16)}"`;
const BASE = LINK_PATH.replace(/\/+$/, ''); // "/caso"

type Body = Record<string, unknown> | undefined;
interface TokenParams {
  token: string;
}

/** A text field of a urlencoded body (the multipart message form is read part by part: message-route.ts). */
function field(body: unknown, name: string): string {
  const v = (body as Body)?.[name];
  const one = Array.isArray(v) ? v[0] : v;
  return typeof one === 'string' ? one : '';
}

const newNonce = () => crypto.randomBytes(18).toString('base64url');

export function registerStatusPage(server: FastifyInstance, app: App, opts: StatusPageOptions = {}): void {
  const { config } = app;
  const s: Strings = strings(config.locale);
  const brand = config.supportName;
  const links = opts.links ?? app.links;
  const portal = new PortalService({
    db: app.db,
    config,
    blobs: app.blobs,
    cases: app.cases,
    links,
    mailer: opts.mailer ?? app.outbound.linkMailer,
    logger: app.logger,
    clock: opts.clock,
    consultantsOf: (org) => [...config.consultants, ...app.policy.extraConsultants(org)],
  });
  const secure = config.publicUrl.startsWith('https:');
  const hmacKey = crypto.createHmac('sha256', config.secretKey).update('mesa-csrf-v1').digest();

  server.register(async (scope) => {
    await scope.register(helmet, {
      // The page runs one script, ours, allowed by its hash (the read receipt, views/case-page.ts), which may only
      // post back here; styles and images come only from this server (images also as data: from sanitized mail).
      // Anything a mail smuggled past the sanitizer has nowhere to run or load from.
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'none'"],
          scriptSrc: [`'${READ_SCRIPT_HASH}'`],
          connectSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          baseUri: ["'none'"],
        },
      },
      referrerPolicy: { policy: 'no-referrer' },
      crossOriginEmbedderPolicy: false,
      hsts: secure,
    });
    await scope.register(cookie);
    await scope.register(csrf, {
      cookieOpts: { path: '/', sameSite: 'lax', httpOnly: true, secure },
      // The form token is bound to the link it was rendered for: a token from one case page is no good on another.
      csrfOpts: { hmacKey, userInfo: true },
      getUserInfo: (req) => (req.params as Partial<TokenParams>)?.token ?? 'perdi-mi-enlace',
      // In the body for the urlencoded forms; in the action URL for the multipart message form, whose body is not
      // read before the token is checked (message-route.ts).
      getToken: (req) => field(req.body, '_csrf') || field(req.query, '_csrf'),
    });
    await scope.register(formbody, { bodyLimit: 256 * 1024 });
    // Parts are read only by the message route, one at a time, files streamed to disk (upload.ts). fileSize is a
    // backstop one byte over the limit that upload.ts enforces itself.
    await scope.register(multipart, {
      throwFileSizeLimit: false,
      limits: {
        fileSize: config.limits.maxAttachmentBytes + 1,
        files: MAX_FILES_PER_MESSAGE,
        fields: 10,
        fieldSize: 256 * 1024,
        parts: 24,
      },
    });
    // Counted in the database: every instance behind a balancer counts the same requests (rate-limit-store.ts).
    await scope.register(rateLimit, {
      global: false,
      store: databaseRateLimitStore({ db: app.db, logger: app.logger, clock: opts.clock }),
    });

    scope.addHook('onSend', async (req, reply, payload) => {
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
      // An answer given before the request's body was read whole (a refused upload): the rest is not read (linger.ts).
      if (!req.raw.complete) closeAfterAnswer(req.raw);
      reply.header('x-robots-tag', 'noindex, nofollow');
      return payload;
    });

    const page = (reply: FastifyReply, code: number, body: string) =>
      reply.code(code).type('text/html; charset=utf-8').send(body);
    const notFound = (reply: FastifyReply) => page(reply, 404, notFoundPage(s, brand, config.supportAddress));
    const csrfFor = (reply: FastifyReply, token: string) => reply.generateCsrf({ userInfo: token });

    scope.setErrorHandler(async (err: any, req, reply) => {
      const code = Number(err.statusCode) || 500;
      if (code >= 500) req.log.error({ err }, 'error en la página del caso');
      else req.log.info({ code: err.code, status: code }, 'petición rechazada en la página del caso');
      if (code === 403 && /CSRF/.test(String(err.code)))
        return page(reply, 403, messagePage({ s, brand, title: s.staleForm, text: s.staleForm }));
      if (code === 413)
        return page(
          reply,
          413,
          messagePage({
            s,
            brand,
            title: s.tooLarge(formatBytes(config.limits.maxAttachmentBytes, config.locale)),
            text: s.tooLarge(formatBytes(config.limits.maxAttachmentBytes, config.locale)),
          }),
        );
      if (code === 429) return page(reply, 429, messagePage({ s, brand, title: s.tooMany, text: s.tooMany }));
      if (code === 404) return notFound(reply);
      return page(reply, code >= 500 ? 500 : code, messagePage({ s, brand, title: s.error, text: s.error }));
    });

    scope.get('/static/mesa.css', async (req, reply) => {
      reply.header('cache-control', 'public, max-age=86400').header('etag', CSS_ETAG);
      if (req.headers['if-none-match'] === CSS_ETAG) return reply.code(304).send();
      return reply.type('text/css; charset=utf-8').send(CSS);
    });

    const renderCase = async (
      reply: FastifyReply,
      token: string,
      a: Extract<Access, { kind: 'ok' }>,
      extra: {
        code?: number;
        notice?: string;
        error?: PageError;
        draft?: string;
        productDraft?: { choice: string; version: string };
      } = {},
    ) => {
      const model = await portal.open(a);
      const sla = opts.sla ? await opts.sla(model.ticket).catch(() => undefined) : undefined;
      return page(
        reply,
        extra.code ?? 200,
        casePage({
          s,
          brand,
          timeZone: config.timezone,
          base: `${BASE}/${token}`,
          model,
          sla,
          csrf: csrfFor(reply, token),
          messageNonce: newNonce(),
          ratingNonce: newNonce(),
          maxAttachmentBytes: config.limits.maxAttachmentBytes,
          notice: extra.notice,
          error: extra.error,
          draft: extra.draft,
          productDraft: extra.productDraft,
        }),
      );
    };

    // The case routes live under their own prefix so that an unknown path below it gets this scope's quiet 404
    // (fastify's default 404 handler would log the URL, token included).
    await scope.register(
      async (caseScope) => {
        registerCaseRoutes(caseScope, {
          app,
          portal,
          s,
          brand,
          clock: opts.clock,
          page,
          notFound,
          csrfFor,
          renderCase,
          csrfProtection: scope.csrfProtection,
          field,
        });
      },
      { prefix: BASE },
    );

    registerConsultantList(scope, { app, s, brand, clock: opts.clock, page, notFound });

    scope.get('/perdi-mi-enlace', async (_req, reply) =>
      page(reply, 200, lostLinkPage({ s, brand, csrf: reply.generateCsrf({ userInfo: 'perdi-mi-enlace' }) })),
    );

    const emailSchema = z.string().trim().toLowerCase().max(320).email();
    scope.post(
      '/perdi-mi-enlace',
      {
        preHandler: scope.csrfProtection,
        config: { rateLimit: { max: config.web.linkRequestsPerIp, timeWindow: '1 hour' } },
      },
      async (req, reply) => {
        const typed = field(req.body as Body, 'correo');
        const parsed = emailSchema.safeParse(typed);
        if (!parsed.success)
          return page(
            reply,
            400,
            lostLinkPage({
              s,
              brand,
              csrf: reply.generateCsrf({ userInfo: 'perdi-mi-enlace' }),
              error: s.badEmail,
              value: cutText(typed, 320),
            }),
          );
        // The same answer whether or not the address has cases (and whether or not its own limit was reached).
        await portal.lostLinks(parsed.data);
        return page(reply, 200, messagePage({ s, brand, title: s.lostTitle, text: s.lostSent }));
      },
    );
  });
}
