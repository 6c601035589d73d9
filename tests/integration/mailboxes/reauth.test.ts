import { afterAll, beforeAll, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { getMailboxState } from '../../../src/db/repos/mailbox-state.ts';
import { getCredential } from '../../../src/db/repos/mailbox-tokens.ts';
import { startPollers } from '../../../src/inbound/readers.ts';
import { silentLogger } from '../../../src/logger.ts';
import { MailboxTokens } from '../../../src/mailboxes/mailbox-tokens.ts';
import { listCases } from '../../../src/services/case-view.ts';
import { buildServer } from '../../../src/web/server.ts';
import { rawMail } from '../outbound/fixtures.ts';
import { testApp } from '../../support/app.ts';
import { startDovecot, type Dovecot } from '../../support/dovecot.ts';
import { startOAuthServer, type OAuthServer } from '../../support/oauth-server.ts';
import { startSmtpSink, type SmtpSink } from '../../support/smtp-sink.ts';
import { waitFor } from '../../support/wait.ts';

// Two OAuth2 mailboxes on a real Dovecot (oauth2 passdb), a real authorization server and an XOAUTH2 SMTP server. The
// fallback mailbox's grant is revoked: it must go to needs_reauth with the provider's code, send one alert, make
// /healthz say so by name, leave the support mailbox working, and come back after a new sign-in without a restart.

let oauth: OAuthServer;
let dovecot: Dovecot;
let sink: SmtpSink;
let app: App;
let pollers: ReturnType<typeof startPollers>;
const ADMIN = 'admin@mesa.test';

beforeAll(async () => {
  oauth = await startOAuthServer({ accessTtlS: 4 });
  const introspectionUrl = `${oauth.issuer}/introspect`;
  dovecot = await startDovecot({ users: ['support', 'fallback'], oauth2: { introspectionUrl } });
  sink = await startSmtpSink({ oauth2: { introspectionUrl } });
  const oauthKeys = (prefix: string, user: string) => ({
    [`${prefix}IMAP_HOST`]: dovecot.host,
    [`${prefix}IMAP_PORT`]: String(dovecot.port),
    [`${prefix}IMAP_SECURE`]: 'false',
    [`${prefix}IMAP_USER`]: user,
    [`${prefix}IMAP_AUTH`]: 'oauth2',
    [`${prefix}OAUTH_PROVIDER`]: 'oidc',
    [`${prefix}OAUTH_ISSUER`]: oauth.issuer,
    [`${prefix}OAUTH_CLIENT_ID`]: oauth.clientId,
    [`${prefix}OAUTH_CLIENT_SECRET_EXPIRES`]: new Date(Date.now() + 40 * 86_400_000).toISOString().slice(0, 10),
  });
  app = await testApp({
    ...oauthKeys('', 'support'),
    ...oauthKeys('FALLBACK_', 'fallback'),
    IMAP_POLL_SECONDS: '120',
    ADMIN_ADDRESS: ADMIN,
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: String(sink.port),
    SMTP_SECURE: 'false',
    SMTP_AUTH: 'oauth2',
    OUTBOX_POLL_MS: '100',
  });
  await signIn(app.tokens, 'support');
  await signIn(app.tokens, 'fallback');
  app.outbound.dispatcher.start();
  pollers = startPollers(app, app.config.mailboxes, { backoffInitialMs: 100, backoffMaxMs: 800 });
});
afterAll(async () => {
  await pollers?.stop();
  await app?.close();
  await sink?.close();
  await dovecot?.stop();
  await oauth?.close();
});

async function signIn(tokens: MailboxTokens, mailbox: 'support' | 'fallback') {
  const login = await tokens.startLogin(mailbox);
  const done = login.complete();
  oauth.approveDevice(login.userCode, mailbox);
  await done;
}

async function healthz() {
  const server = buildServer(app);
  try {
    const res = await server.inject({ method: 'GET', url: '/healthz' });
    return { code: res.statusCode, body: res.json() };
  } finally {
    await server.close();
  }
}

it('invalid_grant: needs_reauth, one alert, /healthz degraded by name, support unaffected, recovery after login', async () => {
  oauth.revokeGrants('fallback');
  const row = await waitFor('needs_reauth', async () => {
    const r = await getCredential(app.db, 'fallback');
    return r?.state === 'needs_reauth' ? r : undefined;
  });
  expect(row.lastErrorCode).toBe('invalid_grant');
  expect(row.lastError).toContain('mesa mailbox login respaldo');

  const [alert] = await sink.waitFor((m) => m.to === ADMIN);
  expect(alert.subject).toBe('Mesa: el buzón fallback necesita iniciar sesión de nuevo');
  expect(alert.text).toContain('mesa mailbox login respaldo');
  expect(alert.text).toContain('invalid_grant');

  const degraded = await healthz();
  expect(degraded.code).toBe(503);
  expect(degraded.body.status).toBe('degraded');
  expect(degraded.body.problems).toEqual(['respaldo: hay que iniciar sesión de nuevo (invalid_grant)']);
  const web = buildServer(app);
  const metrics = await web.inject({ method: 'GET', url: '/metrics' });
  await web.close();
  expect(metrics.body).toMatch(/mesa_mailbox_needs_sign_in\{mailbox="fallback"\} 1/);
  expect(metrics.body).toMatch(/mesa_mailbox_token_expiry_seconds\{mailbox="support"\} \d/);
  expect(metrics.body).toMatch(/mesa_mailbox_client_secret_expiry_days\{mailbox="support"\} \d+/);

  // The server ends the fallback session: without a token the poller records why and waits.
  await dovecot.kick('fallback');
  await waitFor('error registrado', async () =>
    (await getMailboxState(app.db, 'fallback:INBOX'))?.lastError?.includes('iniciar sesión'),
  );

  // The support mailbox keeps reading and sending meanwhile.
  await dovecot.append('support', rawMail({ from: 'carla@cliente.co', subject: 'Sigue funcionando', body: 'Hola.' }));
  await waitFor('caso en soporte', async () =>
    (await listCases(app.db)).some((c) => c.subject === 'Sigue funcionando'),
  );
  await sink.waitFor((m) => m.to === 'carla@cliente.co');

  // One alert, one refused refresh: no retry loop against the provider.
  expect(sink.to(ADMIN)).toHaveLength(1);
  expect(oauth.requests.filter((r) => r.grantType === 'refresh_token' && r.error === 'invalid_grant')).toHaveLength(1);

  // `mesa mailbox login respaldo`, from another process (its own token store on the same database).
  await signIn(
    new MailboxTokens({
      db: app.db,
      secretKey: app.config.secretKey,
      mailboxes: app.config.mailboxes,
      logger: silentLogger,
    }),
    'fallback',
  );
  const uid = await dovecot.append(
    'fallback',
    rawMail({ from: 'luis@cliente.co', to: 'acceso@mesa.test', subject: 'No puedo entrar', body: 'Ayuda.' }),
  );
  await waitFor(
    'buzón de respaldo leído de nuevo',
    async () => ((await getMailboxState(app.db, 'fallback:INBOX'))?.lastUid ?? 0) >= uid,
  );
  const healthy = await healthz();
  expect(healthy.body.problems).toBeUndefined();
  expect(healthy.body.mailboxes.map((m: { credential: { state: string } }) => m.credential.state)).toEqual([
    'ok',
    'ok',
  ]);
  expect(sink.to(ADMIN)).toHaveLength(1);
});
