import { afterAll, beforeAll, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { getMailboxState } from '../../../src/db/repos/mailbox-state.ts';
import { startPollers } from '../../../src/inbound/readers.ts';
import { listCases } from '../../../src/services/case-view.ts';
import { rawMail } from '../outbound/fixtures.ts';
import { graphSupportApp } from '../../support/graph-app.ts';
import { startGraphServer, type GraphServer } from '../../support/graph-server.ts';
import { startOAuthServer, type OAuthServer } from '../../support/oauth-server.ts';
import { waitFor } from '../../support/wait.ts';

// The first read of a support mailbox on Microsoft Graph that already holds mail (MAILBOX_BACKLOG_DAYS, 14 by
// default): the delta query asks only for what was received in those days, and a delta started afresh (the token
// went stale) asks for the same again, so the old mail never becomes cases. receivedDateTime is the server's.

let oauth: OAuthServer;
let graph: GraphServer;
let app: App;
let pollers: ReturnType<typeof startPollers> | undefined;
const DAY = 86_400_000;

beforeAll(async () => {
  oauth = await startOAuthServer({ accessTtlS: 60 });
  graph = await startGraphServer({ introspectionUrl: `${oauth.issuer}/introspect` });
  app = await graphSupportApp(oauth, graph);
});
afterAll(async () => {
  await pollers?.stop();
  await app?.close();
  await graph?.close();
  await oauth?.close();
});

const mailFrom = (from: string, subject: string) =>
  rawMail({ from, subject, body: `Hola, ${subject.toLowerCase()}.`, messageId: `${subject.length}-${from}` });
const subjects = async () => (await listCases(app.db)).map((c) => c.subject).sort();
const recipients = async () =>
  (await app.db('outbox').select('recipient')).map((r: { recipient: string }) => r.recipient);

it('takes only the mail received in the last 14 days, also when the delta starts afresh', async () => {
  const old = new Date(Date.now() - 40 * DAY);
  const oldIds = [
    graph.deliver('support', mailFrom('rosa@antigua.co', 'Factura de agosto'), 'inbox', old),
    graph.deliver('support', mailFrom('luis@antigua.co', 'Clave olvidada'), 'inbox', old),
  ];
  graph.deliver('support', mailFrom('ana@cliente.co', 'No carga el extracto'), 'inbox', new Date(Date.now() - 3 * DAY));
  graph.deliver('support', mailFrom('beto@cliente.co', 'Error al exportar'));
  pollers = startPollers(app, app.config.mailboxes, { backoffInitialMs: 100, backoffMaxMs: 800 });
  const state = await waitFor('the first read', async () => {
    const s = await getMailboxState(app.db, 'support:inbox');
    return s?.lastSuccessAt ? s : undefined;
  });
  expect(await subjects()).toEqual(['Error al exportar', 'No carga el extracto']);
  expect((await recipients()).filter((to) => to.endsWith('@antigua.co'))).toEqual([]);
  expect(graph.folderIds('support', 'inbox')).toEqual(expect.arrayContaining(oldIds));
  // The cut is the one the first request asked for, and it is kept.
  const cut = new Date(state.backlogBefore!).toISOString();
  expect(Date.now() - state.backlogBefore!).toBeGreaterThanOrEqual(14 * DAY);
  const fromScratch = graph.requests.filter((r) => r.path.includes('/messages/delta?$select=id'));
  expect(fromScratch.map((r) => decodeURIComponent(r.path).split('$filter=')[1])).toEqual([
    `receivedDateTime ge ${cut}`,
  ]);

  // Graph forgets the delta token: the reader starts again from scratch, with the same cut.
  graph.expireDeltaTokens();
  graph.deliver('support', mailFrom('ana@cliente.co', 'Sigue sin cargar'));
  await waitFor('the mail after the stale token', async () => (await subjects()).length === 3, 10_000);
  await graph.waitFor('410', (log) => log.some((r) => r.status === 410));
  const again = graph.requests.filter((r) => r.path.includes('/messages/delta?$select=id'));
  expect(again).toHaveLength(2);
  expect(decodeURIComponent(again[1].path)).toContain(`$filter=receivedDateTime ge ${cut}`);
  expect(await subjects()).toEqual(['Error al exportar', 'No carga el extracto', 'Sigue sin cargar']);
});
