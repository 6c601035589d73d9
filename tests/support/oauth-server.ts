import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { requestWatch } from './wait.ts';

/**
 * A real OAuth2 / OpenID Connect authorization server in the test process, on the same protocol as Microsoft's,
 * Google's or Keycloak's (a mock only in that it issues tokens to whoever the test says): discovery document
 * (OIDC Discovery), token endpoint with the refresh_token grant and rotation (RFC 6749 §6: the used refresh token is
 * refused afterwards), client_credentials, device authorization (RFC 8628, `authorization_pending` and `slow_down`)
 * and token introspection (RFC 7662), which Dovecot's oauth2 passdb and the test's SMTP server ask.
 *
 * Every token request is logged (`requests`), so tests await the refresh they expect instead of sleeping.
 */
export interface TokenRequest {
  grantType: string;
  at: number;
  ok: boolean;
  error?: string;
  user?: string;
}

export interface OAuthServer {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Lifetime of new access tokens, seconds (tests use a few). */
  accessTtlS: number;
  requests: TokenRequest[];
  /** Every introspection (Dovecot's and the SMTP sink's logins): the token and the answer. */
  introspections: Array<{ token: string; active: boolean; at: number }>;
  /** Successful refresh_token grants so far. */
  refreshes(): number;
  /** Approves a pending device login (as the person who signed in at the verification URL). */
  approveDevice(userCode: string, user: string): void;
  /** Waits for the device authorization request and returns its user code. */
  nextDeviceCode(): Promise<string>;
  /** Refresh tokens for `user` stop working (password changed, consent withdrawn): `invalid_grant`. */
  revokeGrants(user: string): void;
  /** Every access token of `user` stops being accepted by introspection (the provider revoked them). */
  revokeAccessTokens(user: string): void;
  /** Grants a refresh token directly (as a sign-in done before the test). */
  grant(user: string): { accessToken: string; refreshToken: string };
  introspect(token: string): { active: boolean; username?: string };
  /** Resolves when `pred` holds for the request log (checked on every request). */
  waitFor(what: string, pred: (log: TokenRequest[]) => boolean, timeoutMs?: number): Promise<void>;
  /** Accepts JWT bearer assertions (RFC 7523) signed by this service account's key: Google's domain-wide delegation. */
  trustServiceAccount(email: string, publicKeyPem: string): void;
  /** Who signs in at the authorization endpoint (the browser login): it redirects back at once, as after consent. */
  browserUser: string;
  /** The next device login is answered `slow_down` once before anything else. */
  slowDownNext(): void;
  /** The next token requests fail with 503 (the provider is down). */
  failNext(count: number): void;
  close(): Promise<void>;
}

interface Access {
  user: string;
  expiresAt: number;
  revoked?: boolean;
}
interface Refresh {
  user: string;
  used?: boolean;
  revoked?: boolean;
}
interface Device {
  userCode: string;
  user?: string;
  polls: number;
  slowDownOnce: boolean;
}

/** `scope`: what the token responses say was granted (default `openid offline_access`). */
export async function startOAuthServer(
  opts: { accessTtlS?: number; rotate?: boolean; scope?: string } = {},
): Promise<OAuthServer> {
  const access = new Map<string, Access>();
  const refresh = new Map<string, Refresh>();
  const devices = new Map<string, Device>();
  const accounts = new Map<string, string>();
  const codes = new Map<string, { user: string; challenge: string; redirectUri: string }>();
  const requests: TokenRequest[] = [];
  const introspections: OAuthServer['introspections'] = [];
  let failures = 0;
  let slowDownNext = false;
  const random = () => crypto.randomBytes(18).toString('base64url');
  const watch = requestWatch('OAuth', requests);
  const notify = watch.notify;

  const issue = (user: string, withRefresh: boolean) => {
    const accessToken = `at-${random()}`;
    access.set(accessToken, { user, expiresAt: Date.now() + state.accessTtlS * 1000 });
    const out: Record<string, unknown> = {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: state.accessTtlS,
      scope: opts.scope ?? 'openid offline_access',
    };
    if (withRefresh) {
      const refreshToken = `rt-${random()}`;
      refresh.set(refreshToken, { user });
      out.refresh_token = refreshToken;
    }
    return out;
  };

  const server = http.createServer(async (req, res) => {
    const body = await new Promise<string>((resolve) => {
      let b = '';
      req.on('data', (d) => (b += d));
      req.on('end', () => resolve(b));
    });
    const form = new URLSearchParams(body);
    const send = (status: number, json: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(json));
    };
    const url = new URL(req.url ?? '/', state.issuer);
    if (url.pathname === '/.well-known/openid-configuration') {
      return send(200, {
        issuer: state.issuer,
        token_endpoint: `${state.issuer}/token`,
        device_authorization_endpoint: `${state.issuer}/device`,
        introspection_endpoint: `${state.issuer}/introspect`,
        authorization_endpoint: `${state.issuer}/authorize`,
        grant_types_supported: ['refresh_token', 'client_credentials', 'urn:ietf:params:oauth:grant-type:device_code'],
        token_endpoint_auth_methods_supported: ['client_secret_post', 'none'],
        response_types_supported: ['code'],
      });
    }
    if (url.pathname === '/introspect') {
      const token = form.get('token') ?? '';
      const answer = state.introspect(token);
      introspections.push({ token, active: answer.active, at: Date.now() });
      notify();
      return send(200, answer);
    }
    if (url.pathname === '/authorize') {
      const redirect = new URL(url.searchParams.get('redirect_uri') ?? '');
      const code = `code-${random()}`;
      codes.set(code, {
        user: state.browserUser,
        challenge: url.searchParams.get('code_challenge') ?? '',
        redirectUri: redirect.href,
      });
      redirect.searchParams.set('code', code);
      redirect.searchParams.set('state', url.searchParams.get('state') ?? '');
      res.writeHead(302, { location: redirect.href });
      return res.end();
    }
    if (url.pathname === '/device') {
      const deviceCode = random();
      const userCode = crypto.randomBytes(4).toString('hex').toUpperCase();
      devices.set(deviceCode, { userCode, polls: 0, slowDownOnce: slowDownNext });
      slowDownNext = false;
      notify();
      return send(200, {
        device_code: deviceCode,
        user_code: userCode,
        verification_uri: `${state.issuer}/activar`,
        expires_in: 600,
        interval: 1,
      });
    }
    if (url.pathname !== '/token') return send(404, { error: 'not_found' });
    const grantType = form.get('grant_type') ?? '';
    // A JWT bearer assertion authenticates by its signature (RFC 7523 §3); every other grant names our client.
    if (grantType !== 'urn:ietf:params:oauth:grant-type:jwt-bearer' && form.get('client_id') !== state.clientId)
      return send(401, { error: 'invalid_client' });
    const log = (ok: boolean, error?: string, user?: string) => {
      requests.push({ grantType, at: Date.now(), ok, error, user });
      notify();
    };
    if (failures > 0) {
      failures--;
      log(false, 'temporarily_unavailable');
      return send(503, { error: 'temporarily_unavailable', error_description: 'prueba: proveedor caído' });
    }
    if (grantType === 'refresh_token') {
      const r = refresh.get(form.get('refresh_token') ?? '');
      if (!r || r.revoked || r.used) {
        log(false, 'invalid_grant', r?.user);
        return send(400, {
          error: 'invalid_grant',
          error_description: r?.used ? 'refresh token already used (rotated)' : 'refresh token revoked',
        });
      }
      if (opts.rotate !== false) r.used = true;
      log(true, undefined, r.user);
      return send(200, issue(r.user, opts.rotate !== false));
    }
    if (grantType === 'authorization_code') {
      const c = codes.get(form.get('code') ?? '');
      codes.delete(form.get('code') ?? '');
      // RFC 7636 §4.6: the verifier must hash to the challenge; RFC 6749 §4.1.3: the same redirect_uri.
      const verifier = crypto
        .createHash('sha256')
        .update(form.get('code_verifier') ?? '')
        .digest('base64url');
      if (!c || verifier !== c.challenge || form.get('redirect_uri') !== c.redirectUri) {
        log(false, 'invalid_grant');
        return send(400, { error: 'invalid_grant' });
      }
      log(true, undefined, c.user);
      return send(200, issue(c.user, true));
    }
    if (grantType === 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      const [h, p, sig] = (form.get('assertion') ?? '').split('.');
      const claims = p
        ? (JSON.parse(Buffer.from(p, 'base64url').toString()) as {
            iss?: string;
            sub?: string;
            aud?: string;
            exp?: number;
          })
        : {};
      const key = accounts.get(claims.iss ?? '');
      const signed =
        key && sig && crypto.verify('RSA-SHA256', Buffer.from(`${h}.${p}`), key, Buffer.from(sig, 'base64url'));
      if (!signed || claims.aud !== `${state.issuer}/token` || !claims.sub || (claims.exp ?? 0) * 1000 < Date.now()) {
        log(false, 'invalid_grant', claims.sub);
        return send(400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
      }
      log(true, undefined, claims.sub);
      return send(200, issue(claims.sub, false));
    }
    if (grantType === 'client_credentials') {
      if (form.get('client_secret') !== state.clientSecret) {
        log(false, 'invalid_client');
        return send(401, { error: 'invalid_client' });
      }
      log(true, undefined, 'app');
      return send(200, issue('app', false));
    }
    if (grantType === 'urn:ietf:params:oauth:grant-type:device_code') {
      const d = devices.get(form.get('device_code') ?? '');
      if (!d) return send(400, { error: 'expired_token' });
      d.polls++;
      if (d.slowDownOnce) {
        d.slowDownOnce = false;
        log(false, 'slow_down');
        return send(400, { error: 'slow_down' });
      }
      if (!d.user) {
        log(false, 'authorization_pending');
        return send(400, { error: 'authorization_pending' });
      }
      devices.delete(form.get('device_code')!);
      log(true, undefined, d.user);
      return send(200, issue(d.user, true));
    }
    log(false, 'unsupported_grant_type');
    return send(400, { error: 'unsupported_grant_type' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;

  const state: OAuthServer = {
    issuer: `http://127.0.0.1:${port}`,
    clientId: 'mesa-pruebas',
    clientSecret: 'secreto-de-pruebas',
    browserUser: 'support',
    accessTtlS: opts.accessTtlS ?? 3600,
    requests,
    introspections,
    refreshes: () => requests.filter((r) => r.grantType === 'refresh_token' && r.ok).length,
    approveDevice(userCode, user) {
      const d = [...devices.values()].find((x) => x.userCode === userCode);
      if (!d) throw new Error(`no hay un inicio de sesión pendiente con el código ${userCode}`);
      d.user = user;
    },
    async nextDeviceCode() {
      await state.waitFor('device authorization', () => devices.size > 0);
      return [...devices.values()].at(-1)!.userCode;
    },
    revokeGrants(user) {
      for (const r of refresh.values()) if (r.user === user) r.revoked = true;
    },
    revokeAccessTokens(user) {
      for (const a of access.values()) if (a.user === user) a.revoked = true;
    },
    grant(user) {
      const t = issue(user, true);
      return { accessToken: String(t.access_token), refreshToken: String(t.refresh_token) };
    },
    introspect(token) {
      const a = access.get(token);
      if (!a || a.revoked || a.expiresAt <= Date.now()) return { active: false };
      return { active: true, username: a.user };
    },
    waitFor: watch.waitFor,
    trustServiceAccount(email, publicKeyPem) {
      accounts.set(email, publicKeyPem);
    },
    slowDownNext() {
      slowDownNext = true;
    },
    failNext(count) {
      failures = count;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return state;
}
