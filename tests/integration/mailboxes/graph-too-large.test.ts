import crypto from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { listQuarantine } from '../../../src/db/repos/quarantine.ts';
import { HEADER_SUMMARY_BYTES } from '../../../src/inbound/quarantine.ts';
import { startPollers } from '../../../src/inbound/readers.ts';
import { listCases } from '../../../src/services/case-view.ts';
import { readOriginal } from '../../../src/storage/originals.ts';
import { graphSupportApp } from '../../support/graph-app.ts';
import { startGraphServer, type GraphServer } from '../../support/graph-server.ts';
import { mail } from '../../support/mail.ts';
import { observedIngest } from '../../support/observed-ingest.ts';
import { startOAuthServer, type OAuthServer } from '../../support/oauth-server.ts';
import { waitFor } from '../../support/wait.ts';

// A mail over MAX_MESSAGE_BYTES in a mailbox read through Microsoft Graph (the stub speaking Graph's delta and $value,
// tokens from a real authorization server). Graph gives no size before the body: the reader holds what arrives up to
// the limit, then streams the rest into the store with it. Refused and kept whole, as over IMAP.

let oauth: OAuthServer;
let graph: GraphServer;
let app: App;
let pollers: ReturnType<typeof startPollers>;
const LIMIT = 200_000;
const handed: Array<{ id: string; bytes: number; kept?: { sha256: string; size: number } }> = [];

beforeAll(async () => {
  oauth = await startOAuthServer({ accessTtlS: 600 });
  graph = await startGraphServer({ introspectionUrl: `${oauth.issuer}/introspect` });
  app = await graphSupportApp(oauth, graph, { MAX_MESSAGE_BYTES: String(LIMIT) });
  const a = app;
  // The real ingest, observed: what the reader hands it of each mail.
  const observed = observedIngest(a, {
    ingestMany: (items, ingestMany) => {
      for (const it of items)
        if (it.source.kind === 'graph') handed.push({ id: it.source.id, bytes: it.raw.length, kept: it.kept });
      return ingestMany(items);
    },
  });
  pollers = startPollers(observed, a.config.mailboxes, { backoffInitialMs: 100, backoffMaxMs: 800 });
});
afterAll(async () => {
  await pollers?.stop();
  await app?.close();
  await graph?.close();
  await oauth?.close();
});

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
const headers = (n: string) => ({
  From: `Cliente ${n} <cliente${n}@empresa.co>`,
  To: 'soporte@mesa.test',
  Subject: `Consulta ${n}`,
  'Message-ID': `<graph-${n}.${Date.now()}@empresa.co>`,
  Date: 'Mon, 07 Dec 2026 10:00:00 -0500',
});

it('refuses a mail over MAX_MESSAGE_BYTES from its start and keeps it whole; the mails around it become cases', async () => {
  const big = mail(
    headers('grande'),
    Array.from({ length: 30_000 }, (_, i) => `2026-12-07 10:00:${i} ERROR conciliación fallida en el lote ${i}`).join(
      '\r\n',
    ),
  );
  expect(big.length).toBeGreaterThan(5 * LIMIT);
  graph.deliver('support', mail(headers('1'), 'Hola, la consulta uno.\r\n'));
  const bigId = graph.deliver('support', big);
  graph.deliver('support', mail(headers('2'), 'Hola, la consulta dos.\r\n'));
  await waitFor(
    'three mails recorded',
    async () => Number((await app.db('ingest_ledger').count({ n: '*' }))[0].n) === 3,
  );

  const handedBig = handed.find((h) => h.id === bigId)!;
  expect(handedBig.bytes).toBeLessThanOrEqual(HEADER_SUMMARY_BYTES);
  expect(handedBig.kept).toEqual({ sha256: sha256(big), size: big.length });
  const [q] = await listQuarantine(app.db);
  expect(q).toMatchObject({ reason: 'too_large', size: big.length, fromAddress: 'clientegrande@empresa.co' });
  expect(sha256(await readOriginal(app.db, app.blobs, q.rawSha256))).toBe(sha256(big));
  expect((await listCases(app.db)).map((t) => t.subject).sort()).toEqual(['Consulta 1', 'Consulta 2']);
  expect(handed.filter((h) => h.id !== bigId).every((h) => h.kept === undefined)).toBe(true);
});
