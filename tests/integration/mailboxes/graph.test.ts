import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { getDeltaLink } from '../../../src/db/repos/graph-delta.ts';
import { countByState } from '../../../src/db/repos/outbox.ts';
import { getMailboxState } from '../../../src/db/repos/mailbox-state.ts';
import { getCredential } from '../../../src/db/repos/mailbox-tokens.ts';
import { startPollers } from '../../../src/inbound/readers.ts';
import { parseOurMessageId } from '../../../src/mail/message-id.ts';
import { listCases } from '../../../src/services/case-view.ts';
import { rawMail } from '../outbound/fixtures.ts';
import { graphSupportApp } from '../../support/graph-app.ts';
import { startDovecot, type Dovecot } from '../../support/dovecot.ts';
import { startGraphServer, type GraphServer } from '../../support/graph-server.ts';
import { startOAuthServer, type OAuthServer } from '../../support/oauth-server.ts';
import { waitFor } from '../../support/wait.ts';

// The support mailbox on Microsoft Graph (a stub speaking Graph's delta/$value/sendMail shapes, its bearer tokens
// checked at a real authorization server whose tokens live 3 s), the fallback mailbox on a real Dovecot over IMAP.
// Mail in through delta pages, confirmations out through sendMail, across token refreshes, a restart midway, a stale
// delta token, throttling and a lost grant: every mail has exactly one effect, and one mailbox never stops the other.

let oauth: OAuthServer;
let graph: GraphServer;
let dovecot: Dovecot;
let app: App;
let pollers: ReturnType<typeof startPollers>;
const start = () =>
  startPollers(app, app.config.mailboxes, { backoffInitialMs: 100, backoffMaxMs: 800, batchCount: 4 });
const customer = (i: number) => `cliente${i}@empresa.co`;
let delivered = 0;

beforeAll(async () => {
  oauth = await startOAuthServer({ accessTtlS: 3 });
  graph = await startGraphServer({ introspectionUrl: `${oauth.issuer}/introspect` });
  dovecot = await startDovecot({ users: ['fallback'] });
  app = await graphSupportApp(oauth, graph, {
    FALLBACK_IMAP_HOST: dovecot.host,
    FALLBACK_IMAP_PORT: String(dovecot.port),
    FALLBACK_IMAP_SECURE: 'false',
    FALLBACK_IMAP_USER: 'fallback',
    FALLBACK_IMAP_PASSWORD: dovecot.users.fallback.password,
    OUTBOX_POLL_MS: '100',
    OUTBOX_RETRY_BASE_MS: '200',
    OUTBOX_RETRY_MAX_MS: '1000',
  });
  app.outbound.dispatcher.start();
  pollers = start();
});
afterAll(async () => {
  await pollers?.stop();
  await app?.close();
  await dovecot?.stop();
  await graph?.close();
  await oauth?.close();
});

function deliver(count: number): void {
  for (let k = 0; k < count; k++) {
    const i = ++delivered;
    graph.deliver(
      'support',
      rawMail({
        from: customer(i),
        subject: `Consulta ${i}`,
        body: `Hola, soy el cliente ${i}.`,
        messageId: `consulta-${i}@empresa.co`,
      }),
    );
  }
}

const graphCases = async () =>
  (await listCases(app.db, { limit: 1000 })).filter((c) => /^Consulta \d+$/.test(c.subject));
const confirmationsTo = (address: string) => graph.sent.filter((s) => s.mime.toString().includes(`To: ${address}`));
const valueFetches = () => graph.requests.filter((r) => r.path.endsWith('/$value') && r.status === 200).length;

async function settled(count: number): Promise<void> {
  await waitFor(`${count} casos`, async () => (await graphCases()).length >= count);
  await waitFor(`${count} confirmaciones`, () =>
    Array.from({ length: count }, (_, i) => customer(i + 1)).every((a) => confirmationsTo(a).length > 0),
  );
}

it('N mails over several delta pages, token refreshes and a restart midway: N cases, N confirmations by sendMail', async () => {
  // 6 mails, pages of 4: the reader is stopped while its second page is held, after the first page committed.
  const hold = graph.holdAfterPages(1);
  deliver(6);
  await hold.reached;
  await waitFor('primera página registrada', async () => (await graphCases()).length === 4);
  const resumeFrom = await getDeltaLink(app.db, 'support:inbox');
  expect(resumeFrom?.kind).toBe('next');
  await pollers.stop();
  hold.release();
  pollers = start();
  await settled(6);

  // More mail after the 3-second tokens were refreshed twice (and once more while the sends go out).
  const before = oauth.refreshes();
  await oauth.waitFor('dos renovaciones', () => oauth.refreshes() >= before + 2);
  deliver(6);
  await settled(12);

  const cases = await graphCases();
  expect(cases.map((c) => c.subject).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `Consulta ${i + 1}`).sort());
  for (let i = 1; i <= 12; i++) {
    const [confirmation, ...more] = confirmationsTo(customer(i));
    expect(more).toHaveLength(0);
    // The MIME message as Graph takes it (base64 of its bytes): every line ends CRLF, the template's text too.
    expect(confirmation.mime.toString('latin1').match(/(?<!\r)\n|\r(?!\n)/g)).toBeNull();
    const parsed = await simpleParser(confirmation.mime);
    // Our own signed Message-ID and the thread headers went through Graph untouched.
    expect(parseOurMessageId(app.config.secretKey, parsed.messageId!.replace(/^<|>$/g, ''))).toBeDefined();
    expect(parsed.inReplyTo).toBe(`<consulta-${i}@empresa.co>`);
    expect(confirmation.contentType).toMatch(/^text\/plain/);
  }
  expect(valueFetches()).toBe(12);
  // Several access tokens were used to read and to send; every read asked for immutable ids.
  const reads = graph.requests.filter((r) => r.path.includes('/messages/delta'));
  expect(new Set(reads.map((r) => r.token)).size).toBeGreaterThan(1);
  expect(new Set(graph.sent.map((s) => s.token)).size).toBeGreaterThan(1);
  expect(reads.every((r) => r.prefer.includes('IdType="ImmutableId"'))).toBe(true);
});

it('a delta token Graph forgot (410 Gone): the folder is read again and nothing doubles', async () => {
  await waitFor('pasada terminada', async () => (await getDeltaLink(app.db, 'support:inbox'))?.kind === 'delta');
  graph.expireDeltaTokens();
  deliver(2);
  await settled(14);
  await graph.waitFor('410', (log) => log.some((r) => r.status === 410));
  expect((await graphCases()).length).toBe(14);
  // The 12 mails listed again were found in the ledger: not even their sources were fetched again.
  expect(valueFetches()).toBe(14);
  expect(confirmationsTo(customer(1))).toHaveLength(1);
});

it('429 with Retry-After: the reader waits that long, then goes on', async () => {
  // Nothing left to send: the throttled request is the reader's.
  await waitFor(
    'bandeja de salida vacía',
    async () => !(await countByState(app.db)).pending && !(await countByState(app.db)).sending,
  );
  graph.throttleNext(1, 1);
  deliver(1);
  await settled(15);
  const throttled = graph.requests.filter((r) => r.status === 429);
  expect(throttled).toHaveLength(1);
  expect(throttled[0].path).toContain('/messages/delta');
  // The same request asked again (not a tight loop): after the second Retry-After said.
  const retry = graph.requests.find((r) => r.path === throttled[0].path && r.at > throttled[0].at && r.status !== 429);
  expect(retry!.at - throttled[0].at).toBeGreaterThanOrEqual(950);
});

it('an access token revoked early (401 from Graph): renewed once, and the reading goes on', async () => {
  // Right after a refresh, so the reader meets the revoked token well before its next planned refresh.
  const before = oauth.refreshes();
  await oauth.waitFor('una renovación', () => oauth.refreshes() > before);
  const refreshes = oauth.refreshes();
  oauth.revokeAccessTokens('support');
  await graph.waitFor('401', (log) => log.some((r) => r.status === 401));
  deliver(1);
  await settled(16);
  const refused = graph.requests.filter((r) => r.status === 401);
  expect(refused.length).toBeGreaterThan(0);
  // Each refused request was asked again with another token, and answered.
  for (const r of refused) {
    expect(
      graph.requests.some(
        (again) => again.path === r.path && again.at >= r.at && again.token !== r.token && again.status < 300,
      ),
    ).toBe(true);
  }
  expect(oauth.refreshes()).toBeGreaterThan(refreshes);
  expect((await getCredential(app.db, 'support'))?.state).toBe('ok');
});

it('invalid_grant: the Graph mailbox goes to needs_reauth while the IMAP fallback keeps working', async () => {
  oauth.revokeGrants('support');
  const row = await waitFor('needs_reauth', async () => {
    const r = await getCredential(app.db, 'support');
    return r?.state === 'needs_reauth' ? r : undefined;
  });
  expect(row.lastErrorCode).toBe('invalid_grant');
  await waitFor('error registrado', async () =>
    (await getMailboxState(app.db, 'support:inbox'))?.lastError?.includes('iniciar sesión'),
  );

  await dovecot.append(
    'fallback',
    rawMail({ from: 'luis@cliente.co', to: 'acceso@mesa.test', subject: 'No puedo entrar', body: 'Ayuda.' }),
  );
  await waitFor('caso del respaldo', async () =>
    (await listCases(app.db, { limit: 1000 })).some((c) => c.subject === 'No puedo entrar'),
  );
  // One refused refresh: no loop against the provider.
  expect(oauth.requests.filter((r) => r.grantType === 'refresh_token' && r.error === 'invalid_grant')).toHaveLength(1);
});
