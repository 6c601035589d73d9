import contentDisposition from 'content-disposition';
import type { FastifyInstance, FastifyReply, preHandlerHookHandler } from 'fastify';
import { isMesaError } from '../errors.ts';
import { LINK_PATH } from '../links/tokens.ts';
import type { PortalService } from '../services/portal.ts';
import type { Access, Verdict } from '../services/portal-types.ts';
import { registerCaseList } from './case-list-route.ts';
import { noticeText } from './i18n.ts';
import { registerKnowledge } from './knowledge-route.ts';
import { refusedText, registerMessageRoutes, seenId } from './message-route.ts';
import type { PageError } from './views/case-page.ts';
import { messagePage, stalePage } from './views/pages.ts';
import { registerProductChoice } from './product-route.ts';
import type { PageDeps } from './page-deps.ts';

/**
 * The routes under /caso/<token> (status-page.ts registers them in their own scope, with its headers, cookies,
 * CSRF and quiet 404): the case page, its attachments, messages, rating, a fresh link for a stale one, "Mis casos"
 * and the knowledge base.
 */

const NONCE = /^[A-Za-z0-9_-]{16,64}$/;
const BASE = LINK_PATH.replace(/\/+$/, ''); // "/caso"

type Body = Record<string, unknown> | undefined;
interface TokenParams {
  token: string;
}
type Ok = Extract<Access, { kind: 'ok' }>;

export interface CaseRouteDeps extends PageDeps {
  portal: PortalService;
  csrfFor: (reply: FastifyReply, token: string) => string;
  renderCase: (
    reply: FastifyReply,
    token: string,
    a: Ok,
    extra?: {
      code?: number;
      notice?: string;
      error?: PageError;
      draft?: string;
      productDraft?: { choice: string; version: string };
    },
  ) => Promise<FastifyReply>;
  csrfProtection: preHandlerHookHandler;
  field: (body: unknown, name: string) => string;
}

export function registerCaseRoutes(caseScope: FastifyInstance, d: CaseRouteDeps): void {
  const { app, portal, s, brand, page, notFound, csrfFor, renderCase, field } = d;
  const { config } = app;
  const scope = { csrfProtection: d.csrfProtection };
  const opts = { clock: d.clock };
  caseScope.setNotFoundHandler(async (_req, reply) => notFound(reply));

  caseScope.get<{ Params: TokenParams; Querystring: { aviso?: string } }>('/:token', async (req, reply) => {
    const a = await portal.access(req.params.token);
    if (a.kind === 'invalid') return notFound(reply);
    if (a.kind === 'stale')
      return page(
        reply,
        410,
        stalePage({
          s,
          brand,
          action: `${BASE}/${req.params.token}/enlace-nuevo`,
          csrf: csrfFor(reply, req.params.token),
        }),
      );
    return renderCase(reply, req.params.token, a, { notice: noticeText(s, req.query.aviso) });
  });

  caseScope.get<{ Params: TokenParams & { id: string } }>('/:token/adjuntos/:id', async (req, reply) => {
    const a = await portal.access(req.params.token);
    if (a.kind !== 'ok' || !/^\d{1,12}$/.test(req.params.id)) return notFound(reply);
    const file = await portal.attachment(a, Number(req.params.id));
    if (!file) return notFound(reply);
    // Served as a download, in a sandbox, never sniffed: a hostile attachment cannot run as a page of ours.
    // Images keep their type so that sanitized mail HTML may show them inline (cid: references).
    const type = /^image\/(png|jpeg|gif|webp)$/i.test(file.contentType)
      ? file.contentType.toLowerCase()
      : 'application/octet-stream';
    return reply
      .header('content-disposition', contentDisposition(file.filename, { type: 'attachment' }))
      .header('content-security-policy', "default-src 'none'; sandbox")
      .header('cache-control', 'private, no-store')
      .header('content-length', file.size)
      .type(type)
      .send(file.content);
  });

  registerMessageRoutes(caseScope, {
    app,
    portal,
    s,
    brand,
    base: BASE,
    clock: opts.clock,
    page,
    notFound,
    renderCase,
    csrfProtection: scope.csrfProtection,
    field,
  });

  caseScope.post<{ Params: TokenParams }>(
    '/:token/calificacion',
    { preHandler: scope.csrfProtection },
    async (req, reply) => {
      const a = await portal.access(req.params.token);
      if (a.kind !== 'ok') return notFound(reply);
      const body = req.body as Body;
      const nonce = field(body, 'nonce');
      const verdict = field(body, 'veredicto');
      if (!NONCE.test(nonce) || (verdict !== 'satisfactoria' && verdict !== 'insatisfactoria'))
        return reply.code(400).send();
      const comment = field(body, 'comentario');
      try {
        const r = await portal.rate(a, {
          nonce,
          verdict: verdict as Verdict,
          comment,
          seen: seenId(field(body, 'visto')),
        });
        const path = r.url ? new URL(r.url).pathname : `${BASE}/${req.params.token}`;
        return reply.redirect(`${path}?aviso=${verdict === 'satisfactoria' ? 'vobo' : 'reabierto'}`, 303);
      } catch (err) {
        const refused = refusedText(err, s, s.needComment);
        if (refused)
          return renderCase(reply, req.params.token, a, {
            code: refused.code,
            error: { form: 'rating', text: refused.text },
            draft: comment,
          });
        if (isMesaError(err, 'TRANSITION_REFUSED')) return reply.redirect(`${BASE}/${req.params.token}`, 303);
        throw err;
      }
    },
  );

  caseScope.post<{ Params: TokenParams }>(
    '/:token/enlace-nuevo',
    {
      preHandler: scope.csrfProtection,
      config: { rateLimit: { max: config.web.linkRequestsPerIp, timeWindow: '1 hour' } },
    },
    async (req, reply) => {
      const a = await portal.access(req.params.token);
      if (a.kind === 'invalid') return notFound(reply);
      if (a.kind === 'ok') return reply.redirect(`${BASE}/${req.params.token}`, 303);
      const r = await portal.requestFreshLink(a);
      if (r === 'limited') return page(reply, 429, messagePage({ s, brand, title: s.tooMany, text: s.tooMany }));
      return page(reply, 200, messagePage({ s, brand, title: s.sendFresh, text: s.freshSent }));
    },
  );
  registerProductChoice(caseScope, {
    portal,
    s,
    brand,
    page,
    notFound,
    renderCase,
    csrfProtection: scope.csrfProtection,
    field,
  });
  registerCaseList(caseScope, { app, portal, s, brand, clock: opts.clock, page, notFound });
  registerKnowledge(caseScope, { app, portal, s, brand, page, notFound });
}
