import type * as oidc from 'openid-client';
import { isLoopback, type OAuthSettings } from '../config-credentials.ts';

/**
 * The OAuth2 protocol, through openid-client: discovery of the issuer (its token and device authorization endpoints),
 * the device authorization grant (RFC 8628, polling at the server's interval and slowing down on `slow_down`), the
 * refresh token grant and the client credentials grant. Mesa's part — when to refresh, where tokens live, what a
 * failure means for the mailbox — is in ./mailbox-tokens.ts.
 */

export interface TokenSet {
  accessToken: string;
  /** Absent when the provider did not send one (it keeps the stored one valid). */
  refreshToken?: string;
  issuedAt: number;
  expiresAt: number;
  scope?: string;
}

export interface DeviceLogin {
  userCode: string;
  verificationUri: string;
  verificationUriComplete?: string;
  expiresInSeconds: number;
  /** Polls the token endpoint until the person finishes, refuses, or the code expires. */
  complete(signal?: AbortSignal): Promise<TokenSet>;
}

/** What a failed request to the provider means for the mailbox. */
export interface ProviderFailure {
  /** The provider's error code (`invalid_grant`), and Microsoft's AADSTS number when it gave one. */
  code: string;
  description: string;
  /** The grant is gone: only a new sign-in helps, retrying cannot. */
  reauth: boolean;
}

/** Token endpoint errors after which the stored grant cannot work again (RFC 6749 §5.2, OIDC Core §3.1.2.6). */
const GRANT_GONE = new Set([
  'invalid_grant',
  'invalid_client',
  'unauthorized_client',
  'access_denied',
  'consent_required',
  'interaction_required',
  'login_required',
  'invalid_scope',
  'expired_token',
]);

/** A token without `expires_in` is taken to last an hour (the usual lifetime at Microsoft and Google). */
const DEFAULT_LIFETIME_S = 3600;

export class OAuthClient {
  private configuration?: Promise<oidc.Configuration>;

  constructor(
    readonly settings: OAuthSettings,
    private readonly clock: () => number = Date.now,
  ) {}

  /** openid-client loads on first use (a mailbox with a password never needs it, and `mesa start` answers sooner). */
  private async lib(): Promise<typeof oidc> {
    return import('openid-client');
  }

  private config(): Promise<oidc.Configuration> {
    const s = this.settings;
    this.configuration ??= this.lib().then((oidc) =>
      oidc.discovery(
        new URL(s.issuer),
        s.clientId,
        s.clientSecret ? { client_secret: s.clientSecret } : undefined,
        s.clientSecret ? oidc.ClientSecretPost(s.clientSecret) : oidc.None(),
        // Plain HTTP is allowed by config only towards this same machine (src/config-credentials.ts).
        isLoopback(new URL(s.issuer).hostname) ? { execute: [oidc.allowInsecureRequests] } : undefined,
      ),
    );
    // A failed discovery is asked again next time, not remembered.
    this.configuration.catch(() => (this.configuration = undefined));
    return this.configuration;
  }

  async startDeviceLogin(): Promise<DeviceLogin> {
    const [config, oidc] = await Promise.all([this.config(), this.lib()]);
    const started = await oidc.initiateDeviceAuthorization(config, { scope: this.settings.scopes.join(' ') });
    return {
      userCode: started.user_code,
      verificationUri: started.verification_uri,
      verificationUriComplete: started.verification_uri_complete,
      expiresInSeconds: started.expires_in,
      complete: async (signal) =>
        this.tokenSet(await oidc.pollDeviceAuthorizationGrant(config, started, undefined, { signal })),
    };
  }

  /**
   * Authorization code with PKCE (RFC 7636) and a loopback redirect (RFC 8252 §7.3): the URL to open, and the exchange
   * of the address the browser came back to (its `state` checked) for tokens.
   */
  async startBrowserLogin(redirectUri: string): Promise<{ url: string; complete(callback: URL): Promise<TokenSet> }> {
    const [config, oidc] = await Promise.all([this.config(), this.lib()]);
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: this.settings.scopes.join(' '),
      state,
      code_challenge_method: 'S256',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      // Google hands out a refresh token only for offline access, and again only when consent is asked.
      ...(this.settings.provider === 'google' ? { access_type: 'offline', prompt: 'consent' } : {}),
    });
    return {
      url: url.href,
      complete: async (callback) =>
        this.tokenSet(
          await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state }),
        ),
    };
  }

  async refresh(refreshToken: string): Promise<TokenSet> {
    const [config, oidc] = await Promise.all([this.config(), this.lib()]);
    return this.tokenSet(await oidc.refreshTokenGrant(config, refreshToken, { scope: this.settings.scopes.join(' ') }));
  }

  /**
   * Google's service account with domain-wide delegation: a JWT signed with the account's key, naming the mailbox as
   * its subject, exchanged at the key's token endpoint (RFC 7523 §2.1). jose signs; openid-client makes the request.
   */
  async serviceAccount(subject: string): Promise<TokenSet> {
    const key = this.settings.serviceAccount!;
    const [oidc, jose] = await Promise.all([this.lib(), import('jose')]);
    const config = new oidc.Configuration(
      { issuer: this.settings.issuer, token_endpoint: key.tokenUri },
      key.clientEmail,
      undefined,
      oidc.None(),
    );
    if (isLoopback(new URL(key.tokenUri).hostname)) oidc.allowInsecureRequests(config);
    const now = Math.floor(this.clock() / 1000);
    const assertion = await new jose.SignJWT({ scope: this.settings.scopes.join(' ') })
      .setProtectedHeader({ alg: 'RS256', ...(key.privateKeyId ? { kid: key.privateKeyId } : {}) })
      .setIssuer(key.clientEmail)
      .setSubject(subject)
      .setAudience(key.tokenUri)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(await jose.importPKCS8(key.privateKey, 'RS256'));
    return this.tokenSet(
      await oidc.genericGrantRequest(config, 'urn:ietf:params:oauth:grant-type:jwt-bearer', { assertion }),
    );
  }

  async clientCredentials(): Promise<TokenSet> {
    const [config, oidc] = await Promise.all([this.config(), this.lib()]);
    const scope = this.settings.scopes.join(' ');
    return this.tokenSet(await oidc.clientCredentialsGrant(config, scope ? { scope } : {}));
  }

  private tokenSet(r: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers): TokenSet {
    const now = this.clock();
    const lifetime = r.expiresIn() ?? DEFAULT_LIFETIME_S;
    return {
      accessToken: r.access_token,
      refreshToken: r.refresh_token,
      issuedAt: now,
      expiresAt: now + lifetime * 1000,
      scope: r.scope,
    };
  }
}

/** Reads what openid-client threw: the provider's error code, Microsoft's AADSTS number, whether the grant is gone. */
export function describeProviderFailure(err: unknown): ProviderFailure {
  // openid-client's ResponseBodyError: the token endpoint answered with an OAuth error body (RFC 6749 §5.2).
  if (
    (err as { code?: string })?.code === 'OAUTH_RESPONSE_BODY_ERROR' &&
    typeof (err as { error?: unknown }).error === 'string'
  ) {
    const e = err as { error: string; error_description?: string; message: string };
    const description = e.error_description ?? '';
    const aadsts = /AADSTS\d+/.exec(description)?.[0];
    const code = aadsts ? `${e.error} ${aadsts}` : e.error;
    return { code, description: description || e.message, reauth: GRANT_GONE.has(e.error) };
  }
  const e = err as { name?: string; message?: string; code?: string; cause?: { code?: string; status?: number } };
  if (e?.name === 'AbortError') return { code: 'aborted', description: 'cancelado', reauth: false };
  // A token endpoint that answers 5xx (or anything not OAuth-shaped): the provider is down, try again later.
  if (typeof e?.cause?.status === 'number')
    return { code: `http_${e.cause.status}`, description: e.message ?? '', reauth: false };
  const code = e?.cause?.code ?? e?.code ?? 'provider_unavailable';
  return { code: String(code), description: e?.message ?? String(err), reauth: false };
}
