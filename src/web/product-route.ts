import type { FastifyInstance, FastifyReply, preHandlerHookHandler } from 'fastify';
import { LINK_PATH } from '../links/tokens.ts';
import type { PortalService } from '../services/portal.ts';
import type { Access } from '../services/portal-types.ts';
import type { PageError } from './views/case-page.ts';
import { messagePage } from './views/pages.ts';
import type { PageDeps } from './page-deps.ts';
import { cutText } from '../text-cut.ts';

/**
 * POST /caso/<token>/producto: the customer's choice of product, module and version (services/portal-product.ts),
 * from the form the case page shows while the case has none. A plain form post (CSRF bound to this link, as the
 * rating's): answered with a redirect to the page and its notice, or the page again with the refusal beside the form.
 */
const BASE = LINK_PATH.replace(/\/+$/, ''); // "/caso"

export interface ProductRouteDeps extends Pick<PageDeps, 's' | 'brand' | 'page' | 'notFound'> {
  portal: PortalService;
  renderCase: (
    reply: FastifyReply,
    token: string,
    a: Extract<Access, { kind: 'ok' }>,
    extra?: { code?: number; notice?: string; error?: PageError; productDraft?: { choice: string; version: string } },
  ) => Promise<FastifyReply>;
  csrfProtection: preHandlerHookHandler;
  field: (body: unknown, name: string) => string;
}

export function registerProductChoice(caseScope: FastifyInstance, d: ProductRouteDeps): void {
  const { portal, s, brand, page, notFound, renderCase, field } = d;
  caseScope.post<{ Params: { token: string } }>(
    '/:token/producto',
    { preHandler: d.csrfProtection },
    async (req, reply) => {
      const { token } = req.params;
      const a = await portal.access(token);
      if (a.kind !== 'ok') return notFound(reply);
      const draft = {
        choice: cutText(field(req.body, 'producto'), 200),
        version: cutText(field(req.body, 'version'), 20),
      };
      const r = await portal.chooseProduct(a, draft);
      switch (r.kind) {
        case 'set':
        case 'same':
          return reply.redirect(`${BASE}/${token}?aviso=producto`, 303);
        case 'not-customer':
          return page(
            reply,
            403,
            messagePage({ s, brand, title: s.productTitle, text: s.productNotCustomer, back: `${BASE}/${token}` }),
          );
        case 'taken': {
          // The page as it is now: with the product someone else set, and so without the form.
          const now = await portal.access(token);
          return renderCase(reply, token, now.kind === 'ok' ? now : a, {
            code: 409,
            notice: s.productTaken(r.label),
          });
        }
        case 'unknown-product':
          return renderCase(reply, token, a, {
            code: 400,
            error: { form: 'product', text: s.productUnknown(r.value) },
            productDraft: draft,
          });
        case 'unknown-version':
          return renderCase(reply, token, a, {
            code: 400,
            error: { form: 'product', text: s.versionUnknown(r.value, r.product, r.versions) },
            productDraft: draft,
          });
      }
    },
  );
}
