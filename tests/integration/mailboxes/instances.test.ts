import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApp, type App } from '../../../src/app.ts';
import { getCredential } from '../../../src/db/repos/mailbox-tokens.ts';
import { startPollers } from '../../../src/inbound/readers.ts';
import { silentLogger } from '../../../src/logger.ts';
import { listCases } from '../../../src/services/case-view.ts';
import { rawMail } from '../outbound/fixtures.ts';
import { testConfig } from '../../support/app.ts';
import { startDovecot, type Dovecot } from '../../support/dovecot.ts';
import { startOAuthServer, type OAuthServer } from '../../support/oauth-server.ts';
import { waitFor } from '../../support/wait.ts';

// Two Mesa instances on one database (PostgreSQL: the mailbox lease decides who reads; SQLite: both read), one OAuth2
// mailbox whose tokens live 3 s. Every token version must be refreshed exactly once: the provider's count of refresh
// grants equals the number of versions stored after the sign-in, and the mail is acted on once.

let oauth: OAuthServer;
let dovecot: Dovecot;
const apps: App[] = [];
const runs: Array<ReturnType<typeof startPollers>> = [];

beforeAll(async () => {
  oauth = await startOAuthServer({ accessTtlS: 3 });
  dovecot = await startDovecot({ users: ['support'], oauth2: { introspectionUrl: `${oauth.issuer}/introspect` } });
});
afterAll(async () => {
  for (const r of runs) await r.stop();
  for (const a of apps) await a.close();
  await dovecot?.stop();
  await oauth?.close();
});

it('two instances: one refresh per token version, every mail once', async () => {
  const config = await testConfig({
    IMAP_HOST: dovecot.host,
    IMAP_PORT: String(dovecot.port),
    IMAP_SECURE: 'false',
    IMAP_USER: 'support',
    IMAP_POLL_SECONDS: '120',
    IMAP_AUTH: 'oauth2',
    OAUTH_PROVIDER: 'oidc',
    OAUTH_ISSUER: oauth.issuer,
    OAUTH_CLIENT_ID: oauth.clientId,
  });
  for (let i = 0; i < 2; i++) apps.push(await createApp(config, silentLogger));
  const login = await apps[0].tokens.startLogin('support');
  const done = login.complete();
  oauth.approveDevice(login.userCode, 'support');
  await done;
  const signedIn = (await getCredential(apps[0].db, 'support'))!.version;
  const base = oauth.refreshes();
  for (const a of apps)
    runs.push(
      startPollers(a, a.config.mailboxes, {
        backoffInitialMs: 100,
        backoffMaxMs: 800,
        lease: { retryEveryMs: 200, checkEveryMs: 500 },
      }),
    );

  for (let i = 0; i < 4; i++) {
    const before = oauth.refreshes();
    await dovecot.append(
      'support',
      rawMail({ from: `cliente${i}@dos.co`, subject: `Dos instancias ${i}`, body: 'Hola.' }),
    );
    await oauth.waitFor('a refresh', () => oauth.refreshes() > before);
  }
  await waitFor(
    '4 casos',
    async () => (await listCases(apps[0].db)).filter((c) => c.subject.startsWith('Dos instancias')).length === 4,
  );
  for (const r of runs.splice(0)) await r.stop();

  const stored = (await getCredential(apps[0].db, 'support'))!.version - signedIn;
  expect(stored).toBeGreaterThanOrEqual(4);
  expect(oauth.refreshes() - base).toBe(stored);
  expect(oauth.requests.filter((r) => r.grantType === 'refresh_token' && !r.ok)).toHaveLength(0);
  expect((await listCases(apps[0].db)).filter((c) => c.subject.startsWith('Dos instancias'))).toHaveLength(4);
});
