import type { FastifyInstance } from 'fastify';
import { CONSULTANT_LIST_PATH, verifyConsultantListToken } from '../links/consultant-list.ts';
import { CaseListService, type CaseListQuery } from '../services/case-list.ts';
import { listStrings } from './case-list-strings.ts';
import { caseListPage } from './views/case-list-page.ts';
import type { PageDeps } from './page-deps.ts';

/**
 * GET /consultores/lista/<token>: every organization's cases for a consultant, read-only, behind a signed expiring
 * consultant link (src/links/consultant-list.ts). A customer's case link is not such a token and gets a 404.
 */
export function registerConsultantList(scope: FastifyInstance, deps: PageDeps): void {
  const { app, s } = deps;
  const l = listStrings(app.config.locale);
  const service = new CaseListService({ db: app.db, policy: app.policy, clock: deps.clock });
  scope.get<{ Params: { token: string }; Querystring: CaseListQuery }>(
    `${CONSULTANT_LIST_PATH}:token`,
    async (req, reply) => {
      const now = (deps.clock ?? Date.now)();
      const v = verifyConsultantListToken(app.config.secretKey, req.params.token, now);
      if (!v || !app.config.consultants.includes(v.consultant)) return deps.notFound(reply);
      const linksFor = (tickets: Array<{ id: number; number: number }>) =>
        app.links.linksForCases(app.db, tickets, { recipient: v.consultant, now });
      const model = await service.list({ allOrganizations: true }, (req.query ?? {}) as CaseListQuery, linksFor);
      return deps.page(
        reply,
        200,
        caseListPage({
          s,
          l,
          brand: deps.brand,
          timeZone: app.config.timezone,
          base: '',
          caseNumber: 0,
          model,
          self: `${CONSULTANT_LIST_PATH}${req.params.token}`,
        }),
      );
    },
  );
}
