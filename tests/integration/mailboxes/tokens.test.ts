import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { getCredential } from '../../../src/db/repos/mailbox-tokens.ts';
import { isMesaError } from '../../../src/errors.ts';
import { silentLogger } from '../../../src/logger.ts';
import { MailboxTokens } from '../../../src/mailboxes/mailbox-tokens.ts';
import type { ReauthNotice } from '../../../src/mailboxes/token-types.ts';
import { testApp } from '../../support/app.ts';
import { startOAuthServer, type OAuthServer } from '../../support/oauth-server.ts';
import { waitFor } from '../../support/wait.ts';

// A real authorization server on HTTP (tests/support/oauth-server.ts), real database. Tokens live a few seconds, so
// the refresh at 75 % of their life happens within the test; every wait is on the server's request log.

let oauth: OAuthServer;
let app: App | undefined;
const stops: AbortController[] = [];

beforeAll(async () => {
  oauth = await startOAuthServer({ accessTtlS: 4 });
});
afterAll(async () => {
  await oauth?.close();
});
afterEach(async () => {
  for (const s of stops.splice(0)) s.abort();
  await app?.close();
  app = undefined;
  oauth.accessTtlS = 4;
});

function oauthEnv(): Record<string, string> {
  return {
    IMAP_HOST: '127.0.0.1',
    IMAP_USER: 'support',
    IMAP_AUTH: 'oauth2',
    OAUTH_PROVIDER: 'oidc',
    OAUTH_ISSUER: oauth.issuer,
    OAUTH_CLIENT_ID: oauth.clientId,
  };
}

function tokensOf(a: App, onReauth?: (n: ReauthNotice) => Promise<void>): MailboxTokens {
  return new MailboxTokens({
    db: a.db,
    secretKey: a.config.secretKey,
    mailboxes: a.config.mailboxes,
    logger: silentLogger,
    onReauth,
    watchMs: 100,
  });
}

async function signIn(tokens: MailboxTokens, user = 'support') {
  const login = await tokens.startLogin('support');
  const done = login.complete();
  oauth.approveDevice(login.userCode, user);
  return done;
}

function keep(tokens: MailboxTokens) {
  const stop = new AbortController();
  stops.push(stop);
  void tokens.keepFresh('support', stop.signal);
  return stop;
}

describe('OAuth2 mailbox tokens', () => {
  it('device login (slow_down honoured) stores the tokens sealed, never in clear', async () => {
    app = await testApp(oauthEnv());
    const tokens = tokensOf(app);
    await expect(tokens.accessToken('support')).rejects.toSatisfy((e) => isMesaError(e, 'MAILBOX_SIGN_IN_REQUIRED'));
    const before = oauth.requests.length;
    oauth.slowDownNext();
    const got = await signIn(tokens);
    const polls = oauth.requests.slice(before).filter((r) => r.grantType.endsWith('device_code'));
    expect(polls[0].error).toBe('slow_down');
    // RFC 8628 §3.5: after slow_down the interval grows by 5 s.
    expect(polls.at(-1)!.at - polls[0].at).toBeGreaterThanOrEqual(5000);
    const row = (await getCredential(app.db, 'support'))!;
    expect(row.state).toBe('ok');
    expect(JSON.stringify(row)).not.toContain(got.accessToken);
    expect(JSON.stringify(row)).not.toContain(got.refreshToken!);
    expect((await tokens.accessToken('support')).token).toBe(got.accessToken);
  });

  it('refreshes at 75 % of the life, stores the rotated refresh token, and keeps working after a restart', async () => {
    app = await testApp(oauthEnv());
    const tokens = tokensOf(app);
    const first = await signIn(tokens);
    const changed: number[] = [];
    tokens.onChange('support', (v) => changed.push(v));
    const base = oauth.refreshes();
    const stop = keep(tokens);
    await oauth.waitFor('two refreshes', () => oauth.refreshes() >= base + 2);
    await waitUntil(() => changed.length >= 2);
    stop.abort();
    // Refreshed at ~3 s of a 4 s life, never after expiry.
    const current = await tokens.accessToken('support');
    expect(current.token).not.toBe(first.accessToken);
    // The old refresh token was rotated away: the provider refuses it.
    const res = await fetch(`${oauth.issuer}/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: first.refreshToken!,
        client_id: oauth.clientId,
      }),
    });
    expect((await res.json()).error).toBe('invalid_grant');
    // A new process (new MailboxTokens, same database) refreshes with the stored, rotated refresh token.
    const restarted = tokensOf(app);
    const n = oauth.refreshes();
    keep(restarted);
    await oauth.waitFor('refresh after restart', () => oauth.refreshes() > n);
    expect((await getCredential(app.db, 'support'))!.state).toBe('ok');
    expect(oauth.requests.filter((r) => r.grantType === 'refresh_token' && !r.ok)).toHaveLength(1); // only our probe
  });

  it('two instances refresh each token version exactly once', async () => {
    app = await testApp(oauthEnv());
    const a = tokensOf(app);
    const b = tokensOf(app);
    await signIn(a);
    const base = oauth.refreshes();
    const version = (await getCredential(app.db, 'support'))!.version;
    // Both find the token due at the same moment and race for it.
    await Promise.all([a.refresh('support', version), b.refresh('support', version), a.refresh('support', version)]);
    expect(oauth.refreshes()).toBe(base + 1);
    const [ta, tb] = await Promise.all([a.accessToken('support'), b.accessToken('support')]);
    expect(ta.token).toBe(tb.token);
    expect(ta.version).toBe(version + 1);
  });

  it('invalid_grant: needs_reauth with the code, one alert, no more calls to the provider; a new login recovers', async () => {
    app = await testApp(oauthEnv());
    const alerts: ReauthNotice[] = [];
    const tokens = tokensOf(app, async (n) => void alerts.push(n));
    await signIn(tokens, 'support');
    oauth.revokeGrants('support');
    const changed: number[] = [];
    tokens.onChange('support', (v) => changed.push(v));
    keep(tokens);
    await oauth.waitFor('refused refresh', (log) => log.some((r) => r.error === 'invalid_grant'));
    const err = await waitForError(tokens);
    expect(isMesaError(err, 'MAILBOX_SIGN_IN_REQUIRED')).toBe(true);
    const row = (await getCredential(app.db, 'support'))!;
    expect(row).toMatchObject({ state: 'needs_reauth', lastErrorCode: 'invalid_grant' });
    expect(row.lastError).toContain('mesa mailbox login soporte');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ mailbox: 'support', code: 'invalid_grant' });
    const refused = oauth.requests.filter((r) => r.grantType === 'refresh_token' && !r.ok).length;
    // A second instance's alert is the same row's: none more.
    const other = tokensOf(app, async (n) => void alerts.push(n));
    await expect(other.accessToken('support')).rejects.toThrow();
    expect(alerts).toHaveLength(1);
    // The operator signs in again (another process): the keeper sees the new version without a restart.
    await signIn(tokensOf(app));
    await waitUntil(() => changed.length > 0);
    expect((await tokens.accessToken('support')).token).toMatch(/^at-/);
    expect(oauth.requests.filter((r) => r.grantType === 'refresh_token' && !r.ok).length).toBe(refused);
  });

  it('app-only (client_credentials): no sign-in, a token on first use and a new one at 75 % of its life', async () => {
    app = await testApp({ ...oauthEnv(), OAUTH_FLOW: 'client_credentials', OAUTH_CLIENT_SECRET: oauth.clientSecret });
    const tokens = tokensOf(app);
    const before = oauth.requests.filter((r) => r.grantType === 'client_credentials' && r.ok).length;
    const first = await tokens.accessToken('support');
    keep(tokens);
    await oauth.waitFor(
      'a second client_credentials grant',
      (log) => log.filter((r) => r.grantType === 'client_credentials' && r.ok).length >= before + 2,
    );
    const row = await waitFor('the second token stored', async () => {
      const r = (await getCredential(app!.db, 'support'))!;
      return r.version >= 2 ? r : undefined;
    });
    expect(row.refreshToken).toBeUndefined();
    expect((await tokens.accessToken('support')).token).not.toBe(first.token);
    await expect(tokens.startLogin('support')).rejects.toThrow(/client_credentials/);
    // A secret the provider refuses puts the mailbox in needs_reauth; once fixed, `mesa mailbox login` brings it back.
    const wrong = new MailboxTokens({
      db: app.db,
      secretKey: app.config.secretKey,
      logger: silentLogger,
      mailboxes: app.config.mailboxes.map((m) => ({
        ...m,
        credential: { ...m.credential, clientSecret: 'caducado' } as typeof m.credential,
      })),
    });
    await wrong.refresh('support', (await getCredential(app.db, 'support'))!.version);
    expect(await getCredential(app.db, 'support')).toMatchObject({
      state: 'needs_reauth',
      lastErrorCode: 'invalid_client',
    });
    await expect(tokens.accessToken('support')).rejects.toThrow(/OAUTH_CLIENT_SECRET/);
    const back = await tokens.renewAppToken('support');
    expect(back.token).toMatch(/^at-/);
    expect((await getCredential(app.db, 'support'))!.state).toBe('ok');
  });

  it('Google service account with domain-wide delegation: a signed JWT for the mailbox, a wrong key goes to needs_reauth', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-sa-'));
    const keyFile = (name: string, email: string) => {
      const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
      const file = path.join(dir, name);
      fs.writeFileSync(
        file,
        JSON.stringify({
          type: 'service_account',
          client_email: email,
          private_key_id: 'k1',
          token_uri: `${oauth.issuer}/token`,
          private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
        }),
      );
      return { file, publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
    };
    const good = keyFile('good.json', 'mesa@proyecto.iam.gserviceaccount.com');
    oauth.trustServiceAccount('mesa@proyecto.iam.gserviceaccount.com', good.publicKey);
    const googleEnv = {
      ...oauthEnv(),
      OAUTH_PROVIDER: 'google',
      OAUTH_FLOW: 'service_account',
      OAUTH_SERVICE_ACCOUNT_FILE: good.file,
    };
    app = await testApp(googleEnv);
    const t = await tokensOf(app).accessToken('support');
    // The token is the mailbox's (the JWT's subject), as Google's delegation gives it.
    expect(oauth.introspect(t.token)).toEqual({ active: true, username: 'support' });
    await app.close();

    const forged = keyFile('forged.json', 'mesa@proyecto.iam.gserviceaccount.com');
    app = await testApp({ ...googleEnv, OAUTH_SERVICE_ACCOUNT_FILE: forged.file });
    await expect(tokensOf(app).accessToken('support')).rejects.toThrow(/iniciar sesión/);
    expect(await getCredential(app.db, 'support')).toMatchObject({
      state: 'needs_reauth',
      lastErrorCode: 'invalid_grant',
    });
  });

  it('a provider that is down is retried with backoff, not in a loop', async () => {
    app = await testApp(oauthEnv());
    const tokens = tokensOf(app);
    await signIn(tokens);
    const version = (await getCredential(app.db, 'support'))!.version;
    oauth.failNext(1);
    await tokens.refresh('support', version);
    const row = (await getCredential(app.db, 'support'))!;
    expect(row).toMatchObject({ state: 'ok', lastErrorCode: 'http_503' });
    expect(row.nextAttemptAt! - Date.now()).toBeGreaterThan(3000);
    // The current token is still valid: it is handed out, and nobody asks the provider before nextAttemptAt.
    const before = oauth.requests.length;
    await tokens.accessToken('support');
    expect(oauth.requests.length).toBe(before);
  });
});

async function waitForError(tokens: MailboxTokens): Promise<unknown> {
  for (let i = 0; i < 200; i++) {
    try {
      await tokens.accessToken('support');
    } catch (err) {
      if (isMesaError(err, 'MAILBOX_SIGN_IN_REQUIRED')) return err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('el buzón no pasó a needs_reauth');
}

async function waitUntil(check: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
  if (!check()) throw new Error('tiempo agotado');
}
