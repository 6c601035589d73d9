import type { FastifyInstance } from 'fastify';
import { casesWithParticipant } from '../db/repos/case-list.ts';
import type { PortalService } from '../services/portal.ts';
import { CaseListService, type CaseListQuery } from '../services/case-list.ts';
import type { Ticket } from '../tickets/types.ts';
import { listStrings } from './case-list-strings.ts';
import { caseListPage } from './views/case-list-page.ts';
import type { PageDeps } from './page-deps.ts';

/**
 * GET /caso/<token>/casos: "Mis casos", registered inside the status page's case scope (its headers, its quiet
 * 404). The organization and the viewer come from the verified link; the query string can only narrow them. A
 * consultant's link opens no customer list.
 */
export function registerCaseList(caseScope: FastifyInstance, deps: PageDeps & { portal: PortalService }): void {
  const { app, portal, s } = deps;
  const l = listStrings(app.config.locale);
  const service = new CaseListService({ db: app.db, policy: app.policy, clock: deps.clock });
  const shared = app.config.web.caseListOrganizations;

  caseScope.get<{ Params: { token: string }; Querystring: CaseListQuery }>('/:token/casos', async (req, reply) => {
    const a = await portal.access(req.params.token);
    if (a.kind !== 'ok' || app.config.consultants.includes(a.recipient)) return deps.notFound(reply);
    const viewer = a.recipient.toLowerCase();
    const organization = a.ticket.organization;
    const whole = shared === '*' || shared.includes(organization);
    const now = (deps.clock ?? Date.now)();
    const linksFor = async (tickets: Ticket[]) => {
      const on = whole
        ? await casesWithParticipant(
            app.db,
            tickets.map((t) => t.id),
            viewer,
          )
        : undefined;
      // A link only to cases the viewer is on: the organization's list shows the others, it does not open them.
      const theirs = on ? tickets.filter((t) => t.requester === viewer || on.has(t.id)) : tickets;
      return app.links.linksForCases(app.db, theirs, { recipient: viewer, now });
    };
    const query = (req.query ?? {}) as CaseListQuery;
    const model = await service.list({ organization, participant: whole ? undefined : viewer }, query, linksFor);
    return deps.page(
      reply,
      200,
      caseListPage({
        s,
        l,
        brand: deps.brand,
        timeZone: app.config.timezone,
        base: `/caso/${req.params.token}`,
        caseNumber: a.ticket.number,
        model,
      }),
    );
  });
}
