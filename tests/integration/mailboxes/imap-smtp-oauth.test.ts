import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../../src/app.ts';
import { getCredential } from '../../../src/db/repos/mailbox-tokens.ts';
import { startPollers } from '../../../src/inbound/readers.ts';
import { silentLogger } from '../../../src/logger.ts';
import { listCases } from '../../../src/services/case-view.ts';
import { rawMail } from '../outbound/fixtures.ts';
import { testApp } from '../../support/app.ts';
import { startDovecot, type Dovecot } from '../../support/dovecot.ts';
import { startOAuthServer, type OAuthServer } from '../../support/oauth-server.ts';
import { startSmtpSink, type SmtpSink } from '../../support/smtp-sink.ts';
import { waitFor } from '../../support/wait.ts';

// Real Dovecot whose oauth2 passdb asks a real authorization server (introspection) about every XOAUTH2 login, a
// real SMTP server that does the same, a real database. Access tokens live 4 s: Mesa refreshes them at 3 s and must
// keep reading and sending across the changes. Waits are on the servers' logs and on the database, never on a clock.

let oauth: OAuthServer;
let dovecot: Dovecot;
let sink: SmtpSink;
let app: App | undefined;
let pollers: ReturnType<typeof startPollers> | undefined;
/** The tokens of the last sign-in (the test's own view, as the person's browser would have them). */
let signedIn: { refreshToken?: string } = {};

beforeAll(async () => {
  oauth = await startOAuthServer({ accessTtlS: 4 });
  const introspectionUrl = `${oauth.issuer}/introspect`;
  dovecot = await startDovecot({ users: ['support', 'fallback'], oauth2: { introspectionUrl } });
  sink = await startSmtpSink({ oauth2: { introspectionUrl } });
});
afterAll(async () => {
  await sink?.close();
  await dovecot?.stop();
  await oauth?.close();
});
afterEach(async () => {
  await pollers?.stop();
  pollers = undefined;
  await app?.close();
  app = undefined;
  oauth.accessTtlS = 4;
});

function env(folder: string): Record<string, string> {
  return {
    IMAP_HOST: dovecot.host,
    IMAP_PORT: String(dovecot.port),
    IMAP_SECURE: 'false',
    IMAP_USER: 'support',
    IMAP_MAILBOX: folder,
    IMAP_POLL_SECONDS: '120',
    IMAP_AUTH: 'oauth2',
    OAUTH_PROVIDER: 'oidc',
    OAUTH_ISSUER: oauth.issuer,
    OAUTH_CLIENT_ID: oauth.clientId,
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: String(sink.port),
    SMTP_SECURE: 'false',
    SMTP_AUTH: 'oauth2',
    OUTBOX_POLL_MS: '100',
  };
}

async function start(folder: string): Promise<App> {
  const c = await dovecot.client('support');
  await c.mailboxCreate(folder).catch(() => undefined);
  await c.logout();
  app = await testApp(env(folder));
  const login = await app.tokens.startLogin('support');
  const done = login.complete();
  oauth.approveDevice(login.userCode, 'support');
  signedIn = await done;
  app.outbound.dispatcher.start();
  pollers = startPollers(app, app.config.mailboxes, { backoffInitialMs: 100, backoffMaxMs: 800 });
  return app;
}

let seq = 0;
function customerMail(folder: string, i: number) {
  return rawMail({
    from: `cliente${i}@${folder.toLowerCase()}.co`,
    subject: `Consulta ${i} ${folder}`,
    messageId: `m${++seq}-${Date.now()}@cliente.co`,
    body: `Hola, consulta número ${i}.`,
  });
}

describe('OAuth2 mailbox over IMAP and SMTP', () => {
  it('keeps ingesting and sending across several token refreshes: N mails, exactly N cases and N confirmations', async () => {
    const folder = 'Tokens';
    const a = await start(folder);
    const N = 6;
    for (let i = 0; i < N; i++) {
      const refreshes = oauth.refreshes();
      await dovecot.append('support', customerMail(folder, i), folder);
      // Every other mail waits for a new token, so the mails straddle at least three token versions.
      if (i % 2 === 1) await oauth.waitFor('a refresh', () => oauth.refreshes() > refreshes);
    }
    await waitFor(
      'N casos',
      async () => (await listCases(a.db)).filter((c) => c.subject.endsWith(folder)).length === N,
    );
    const confirmations = await sink.waitFor((m) => m.to.endsWith(`@${folder.toLowerCase()}.co`), { count: N });
    expect(confirmations).toHaveLength(N);
    expect(new Set(confirmations.map((m) => m.to)).size).toBe(N);
    // Still exactly N once everything settled, and the mailbox logged in with more than one token.
    expect((await listCases(a.db)).filter((c) => c.subject.endsWith(folder))).toHaveLength(N);
    // IMAP signs in again with each new token before the old one expires; on a loaded machine the last sign-in may
    // come after the last mail was read, so wait for it rather than assume it came first.
    const imapTokens = () => new Set(oauth.introspections.filter((x) => x.active).map((x) => x.token)).size;
    await waitFor('three IMAP sign-ins with different tokens', async () => imapTokens() >= 3);
    expect(imapTokens()).toBeGreaterThanOrEqual(3);
    expect(sink.logins.every((l) => l.ok || !l.token)).toBe(true);
    expect((await getCredential(a.db, 'support'))!.state).toBe('ok');
  });

  it('a rotated refresh token is stored: after a restart on the same database Mesa keeps reading, the old one refused', async () => {
    const folder = 'Reinicio';
    const a = await start(folder);
    const first = (await getCredential(a.db, 'support'))!;
    const refreshes = oauth.refreshes();
    await oauth.waitFor('a rotation', () => oauth.refreshes() > refreshes);
    await waitFor('rotated token stored', async () => (await getCredential(a.db, 'support'))!.version > first.version);
    expect((await getCredential(a.db, 'support'))!.refreshToken).not.toBe(first.refreshToken);
    const probe = await fetch(`${oauth.issuer}/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: signedIn.refreshToken!,
        client_id: oauth.clientId,
      }),
    });
    expect((await probe.json()).error).toBe('invalid_grant');
    const refusedBefore = oauth.requests.filter((r) => r.grantType === 'refresh_token' && !r.ok).length;
    // Stop everything, then a new process on the same database and configuration.
    await pollers!.stop();
    await a.close();
    app = await createApp(a.config, silentLogger);
    app.outbound.dispatcher.start();
    pollers = startPollers(app, app.config.mailboxes, { backoffInitialMs: 100, backoffMaxMs: 800 });
    const more = oauth.refreshes();
    await dovecot.append('support', customerMail(folder, 1), folder);
    await waitFor('caso tras el reinicio', async () =>
      (await listCases(app!.db)).some((c) => c.subject.endsWith(folder)),
    );
    await oauth.waitFor('a refresh after the restart', () => oauth.refreshes() > more);
    await sink.waitFor((m) => m.to.endsWith(`@${folder.toLowerCase()}.co`));
    // Mesa's own refreshes all used the latest rotated token: the only refusal is the probe's.
    expect(oauth.requests.filter((r) => r.grantType === 'refresh_token' && !r.ok)).toHaveLength(refusedBefore);
    expect(refusedBefore).toBe(1);
  });

  it('a session the server ends, with its token revoked, reconnects with a fresh token', async () => {
    const folder = 'Expulsado';
    // Dovecot delays a login after a failed one from the same address (its auth penalty, seconds): tokens here live
    // long enough to outlast that delay, as real ones (an hour) do.
    oauth.accessTtlS = 30;
    const a = await start(folder);
    await dovecot.append('support', customerMail(folder, 1), folder);
    await waitFor('primer caso', async () => (await listCases(a.db)).some((c) => c.subject.endsWith(folder)));
    const before = oauth.refreshes();
    // The provider revokes the token in use and the server ends the session (as Exchange does when a token expires).
    oauth.revokeAccessTokens('support');
    await dovecot.kick('support');
    await dovecot.append('support', customerMail(folder, 2), folder);
    await waitFor(
      'segundo caso',
      async () => (await listCases(a.db)).filter((c) => c.subject.endsWith(folder)).length === 2,
    );
    expect(oauth.refreshes()).toBeGreaterThan(before);
    expect(oauth.introspections.some((x) => !x.active)).toBe(true);
  });
});
