import { afterAll, beforeAll, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { listOutbox } from '../../../src/db/repos/outbox.ts';
import { startPollers } from '../../../src/inbound/readers.ts';
import { listCases } from '../../../src/services/case-view.ts';
import { rawMail } from '../outbound/fixtures.ts';
import { graphSupportApp } from '../../support/graph-app.ts';
import { startGraphServer, type GraphServer } from '../../support/graph-server.ts';
import { startOAuthServer, type OAuthServer } from '../../support/oauth-server.ts';
import { waitFor } from '../../support/wait.ts';

// GRAPH_PROCESSED_FOLDER: each mail leaves the inbox for that folder (created once) only after its case committed, and
// keeps its immutable id there. A send Graph throttles waits at least what Retry-After asked, then goes out.

let oauth: OAuthServer;
let graph: GraphServer;
let app: App;
let pollers: ReturnType<typeof startPollers>;

beforeAll(async () => {
  oauth = await startOAuthServer({ accessTtlS: 600 });
  graph = await startGraphServer({ introspectionUrl: `${oauth.issuer}/introspect` });
  app = await graphSupportApp(oauth, graph, {
    GRAPH_PROCESSED_FOLDER: 'Procesados',
    CONSULTANTS: '',
    OUTBOX_POLL_MS: '100',
    OUTBOX_RETRY_BASE_MS: '100',
    OUTBOX_RETRY_MAX_MS: '200',
  });
  pollers = startPollers(app, app.config.mailboxes, { backoffInitialMs: 100, backoffMaxMs: 800 });
});
afterAll(async () => {
  await pollers?.stop();
  await app?.close();
  await graph?.close();
  await oauth?.close();
});

it('moves each recorded mail to the processed folder, keeping its id; a throttled send honours Retry-After', async () => {
  const ids = [1, 2, 3].map((i) =>
    graph.deliver('support', rawMail({ from: `c${i}@empresa.co`, subject: `Movido ${i}`, body: 'Hola.' })),
  );
  await waitFor(
    '3 casos',
    async () => (await listCases(app.db)).filter((c) => c.subject.startsWith('Movido')).length === 3,
  );
  await waitFor('bandeja vacía', () => graph.folderIds('support', 'inbox').length === 0);
  const [folder] = (
    await (
      await fetch(`${graph.baseUrl}/users/support/mailFolders`, {
        headers: { authorization: `Bearer ${(await app.tokens.accessToken('support')).token}` },
      })
    ).json()
  ).value;
  expect(folder.displayName).toBe('Procesados');
  expect(graph.folderIds('support', folder.id).sort()).toEqual([...ids].sort());
  expect(graph.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/mailFolders'))).toHaveLength(1);
  // Moved only after their case was recorded: each move follows that mail's source fetch and the delta page.
  const moves = graph.requests.filter((r) => r.path.endsWith('/move'));
  expect(moves).toHaveLength(3);

  // Nothing was sent yet (the dispatcher was not started): the first sendMail is throttled for 1 s.
  graph.throttleNext(1, 1, '/sendMail');
  app.outbound.dispatcher.start();
  await waitFor('3 confirmaciones', () => graph.sent.length === 3);
  const throttled = graph.requests.find((r) => r.status === 429)!;
  expect(throttled.path).toContain('/sendMail');
  // The throttled mail went again after the wait Retry-After asked (the others were not held up); none went twice.
  const after = graph.requests.filter((r) => r.path.endsWith('/sendMail') && r.status === 202 && r.at > throttled.at);
  expect(Math.max(...after.map((r) => r.at)) - throttled.at).toBeGreaterThanOrEqual(950);
  expect(graph.requests.filter((r) => r.path.endsWith('/sendMail') && r.status === 202)).toHaveLength(3);
  // Graph has them all; the dispatcher records each as sent once its 202 is back (a moment after Graph counted it).
  await waitFor('3 enviados en la bandeja de salida', async () =>
    (await listOutbox(app.db)).every((row) => row.state === 'sent'),
  );
  expect((await listOutbox(app.db)).map((row) => row.state)).toEqual(['sent', 'sent', 'sent']);
});
