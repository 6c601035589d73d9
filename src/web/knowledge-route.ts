import type { FastifyInstance } from 'fastify';
import { articleProducts, articlesByTicketIds, findArticle, listArticles } from '../db/repos/search.ts';
import { expiringCache } from '../memo.ts';
import type { PortalService } from '../services/portal.ts';
import { listStrings } from './case-list-strings.ts';
import { articlePage, knowledgePage } from './views/knowledge-page.ts';
import type { PageDeps } from './page-deps.ts';

/**
 * GET /caso/<token>/conocimiento (search, product filter, every article) and /conocimiento/<id> (one article),
 * inside the status page's case scope. Articles are published text only: what a consultant chose to show.
 */
const PAGE = 10;
/** The product filter's choices are read again at most this often: a new product shows within a minute. */
const PRODUCTS_TTL_MS = 60_000;

export function registerKnowledge(caseScope: FastifyInstance, deps: PageDeps & { portal: PortalService }): void {
  const { app, portal, s, brand } = deps;
  const l = listStrings(app.config.locale);
  const one = (v: unknown) => (typeof v === 'string' ? v : '');
  // Every page of the knowledge base offers them; they change when a consultant publishes a new product's case.
  const productsOf = expiringCache<string[]>(1, PRODUCTS_TTL_MS);

  caseScope.get<{ Params: { token: string }; Querystring: Record<string, unknown> }>(
    '/:token/conocimiento',
    async (req, reply) => {
      const a = await portal.access(req.params.token);
      if (a.kind !== 'ok') return deps.notFound(reply);
      const query = one(req.query.q).trim().slice(0, 200);
      const products = await productsOf('', () => articleProducts(app.db));
      const asked = one(req.query.producto).trim();
      const product = products.includes(asked) ? asked : '';
      const page = /^\d{1,5}$/.test(one(req.query.pagina)) ? Math.max(1, Number(one(req.query.pagina))) : 1;
      let articles;
      let total;
      if (query) {
        const ids = await app.knowledge.similar(app.db, query, {
          kind: 'article',
          limit: 50,
          product: product || undefined,
        });
        // Only the shown page's articles are read; an article and its index entry are written together.
        const shown = ids.slice((page - 1) * PAGE, page * PAGE);
        const byTicket = new Map((await articlesByTicketIds(app.db, shown)).map((x) => [x.ticketId, x]));
        total = ids.length;
        articles = shown.map((id) => byTicket.get(id)!).filter(Boolean);
      } else {
        const r = await listArticles(app.db, { product: product || undefined, limit: PAGE, offset: (page - 1) * PAGE });
        total = r.total;
        articles = r.articles;
      }
      return deps.page(
        reply,
        200,
        knowledgePage({
          s,
          l,
          brand,
          timeZone: app.config.timezone,
          base: `/caso/${req.params.token}`,
          caseNumber: a.ticket.number,
          query,
          product,
          products,
          articles,
          total,
          page,
          pages: Math.max(1, Math.ceil(total / PAGE)),
        }),
      );
    },
  );

  caseScope.get<{ Params: { token: string; id: string } }>('/:token/conocimiento/:id', async (req, reply) => {
    const a = await portal.access(req.params.token);
    if (a.kind !== 'ok' || !/^\d{1,9}$/.test(req.params.id)) return deps.notFound(reply);
    const article = await findArticle(app.db, Number(req.params.id));
    if (!article) return deps.notFound(reply);
    return deps.page(
      reply,
      200,
      articlePage({ s, l, brand, timeZone: app.config.timezone, base: `/caso/${req.params.token}`, article }),
    );
  });
}
