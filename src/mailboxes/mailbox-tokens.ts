import { EventEmitter } from 'node:events';
import type { MailboxConfig } from '../config.ts';
import { appOnly, type OAuthSettings } from '../config-credentials.ts';
import { defaultHolder } from '../db/holders.ts';
import * as repo from '../db/repos/mailbox-tokens.ts';
import { MesaError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { explainReauth, type MailboxName } from './explain.ts';
import { OAuthClient, type DeviceLogin, type TokenSet } from './oauth-client.ts';
import { sleep } from './sleep.ts';
import { loginFailed, recordRefreshFailure } from './token-failures.ts';
import { margin, REFRESH_AT } from './token-timing.ts';
import type { AccessToken, MailboxTokensDeps } from './token-types.ts';
import { TokenCipher } from './token-cipher.ts';

/**
 * The lifecycle of each OAuth2 mailbox's tokens, shared by IMAP (src/inbound/poller.ts) and SMTP
 * (src/outbound/transport.ts), which only ask for `accessToken()`:
 *
 * - Tokens live in `mailbox_credentials`, sealed (./token-cipher.ts). A rotated refresh token is written in the same
 *   statement as the access token it came with, so a crash can never keep one without the other.
 * - A token is refreshed once, at REFRESH_AT of its life, by `keepFresh()`, which the poller runs while it holds the
 *   mailbox's lease. Whoever refreshes first claims the row's current version (a compare-and-set): with several
 *   instances on PostgreSQL exactly one calls the provider, the others wait for the new version and read it.
 * - A failure that says the grant is gone (invalid_grant and kin) puts the mailbox in `needs_reauth`: no more calls to
 *   the provider until `mesa mailbox login` stores new tokens; the alert goes out once (rate-limited in the row).
 *   Other failures (provider down) are retried with exponential backoff, never in a tight loop.
 * - `changed` fires in this process when a new token version is seen, so IMAP reconnects with it before the old one
 *   expires, and a mailbox signed in again from another process recovers without anything being restarted.
 */

const CLAIM_TTL_MS = 60_000;
/** While a mailbox waits for a new sign-in, how often its row is read for one (a cheap local query, no provider). */
const WATCH_MS = 2_000;

type OAuthMailbox = MailboxConfig & { credential: { kind: 'oauth2' } & OAuthSettings };

export class MailboxTokens {
  private readonly cipher: TokenCipher;
  private readonly clients = new Map<MailboxName, OAuthClient>();
  private readonly configs = new Map<MailboxName, OAuthMailbox>();
  private readonly events = new EventEmitter();
  private readonly seen = new Map<MailboxName, number>();
  private readonly holder = defaultHolder();
  private readonly clock: () => number;
  private readonly log: Logger;
  private ready?: Promise<void>;

  constructor(private readonly deps: MailboxTokensDeps) {
    this.cipher = new TokenCipher(deps.secretKey);
    this.clock = deps.clock ?? Date.now;
    this.log = deps.logger.child({ component: 'mailbox-tokens' });
    for (const mb of deps.mailboxes) {
      if (mb.credential.kind !== 'oauth2') continue;
      this.configs.set(mb.name, mb as OAuthMailbox);
      this.clients.set(mb.name, new OAuthClient(mb.credential, this.clock));
    }
    this.events.setMaxListeners(0);
  }

  /** True when this mailbox's tokens are kept here (IMAP_AUTH=oauth2). */
  manages(mailbox: MailboxName): boolean {
    return this.configs.has(mailbox);
  }

  /** Calls `fn` whenever a new token version of `mailbox` is seen in this process; returns the unsubscribe. */
  onChange(mailbox: MailboxName, fn: (version: number) => void): () => void {
    this.events.on(mailbox, fn);
    return () => this.events.off(mailbox, fn);
  }

  /**
   * A valid access token, refreshed first when it is close to expiry. `refused`: the server just refused this one.
   * `renew`: the server refused the caller's token, which may be this one unless this one is brand new (SMTP's pool).
   */
  async accessToken(mailbox: MailboxName, opts: { refused?: string; renew?: boolean } = {}): Promise<AccessToken> {
    const mb = this.oauthMailbox(mailbox);
    for (let attempt = 0; attempt < 3; attempt++) {
      const row = await this.row(mailbox);
      const token = row.accessToken ? this.cipher.open(row.accessToken, `${mailbox}:access`) : undefined;
      const now = this.clock();
      if (row.state === 'needs_reauth')
        throw new MesaError('MAILBOX_SIGN_IN_REQUIRED', explainReauth(mailbox, row.lastErrorCode ?? 'invalid_grant'));
      const renewed = opts.renew && attempt === 0 && now - (row.issuedAt ?? 0) > margin(row);
      const usable =
        token && row.expiresAt !== undefined && row.expiresAt - now > margin(row) && token !== opts.refused && !renewed;
      if (usable) return { token, version: row.version, expiresAt: row.expiresAt! };
      if (!row.refreshToken && !appOnly(mb.credential.flow))
        throw new MesaError(
          'MAILBOX_SIGN_IN_REQUIRED',
          `falta iniciar sesión: mesa mailbox login ${mailbox === 'support' ? 'soporte' : 'respaldo'}`,
        );
      if (row.nextAttemptAt && row.nextAttemptAt > now)
        throw new MesaError('OAUTH_PROVIDER_UNAVAILABLE', `${row.lastErrorCode ?? ''} ${row.lastError ?? ''}`.trim());
      await this.refresh(mailbox, row.version);
    }
    throw new MesaError('OAUTH_PROVIDER_UNAVAILABLE', 'no se obtuvo un token nuevo');
  }

  /**
   * Keeps this mailbox's token fresh until `signal` aborts: refreshes at REFRESH_AT of its life, backs off after a
   * failure, and while the mailbox waits for a new sign-in watches its row for one. Run by the lease holder.
   */
  async keepFresh(mailbox: MailboxName, signal: AbortSignal): Promise<void> {
    this.oauthMailbox(mailbox);
    while (!signal.aborted) {
      let wait = this.deps.watchMs ?? WATCH_MS;
      try {
        const row = await this.row(mailbox);
        this.noticeVersion(mailbox, row.version);
        const now = this.clock();
        if (row.state !== 'needs_reauth' && (row.refreshToken || appOnly(this.configs.get(mailbox)!.credential.flow))) {
          const due =
            row.issuedAt !== undefined && row.expiresAt !== undefined
              ? row.issuedAt + REFRESH_AT * (row.expiresAt - row.issuedAt)
              : now;
          const at = Math.max(due, row.nextAttemptAt ?? 0);
          if (at <= now) {
            await this.refresh(mailbox, row.version);
            continue;
          }
          wait = Math.min(at - now, 60_000);
        }
      } catch (err) {
        this.log.warn({ err, mailbox }, 'no se pudo revisar el token del buzón');
      }
      await sleep(wait, signal, (fn) => this.onChange(mailbox, fn));
    }
  }

  /** Refreshes the token version `seen` once across instances: claims it, or waits for whoever did. */
  async refresh(mailbox: MailboxName, seen: number): Promise<void> {
    const mb = this.oauthMailbox(mailbox);
    const now = this.clock();
    if (
      !(await repo.claimRefresh(this.deps.db, mailbox, {
        holder: this.holder,
        version: seen,
        now,
        ttlMs: CLAIM_TTL_MS,
      }))
    ) {
      await this.waitForVersionAfter(mailbox, seen, now + CLAIM_TTL_MS);
      return;
    }
    const row = await this.row(mailbox);
    const client = this.clients.get(mailbox)!;
    try {
      let tokens: TokenSet;
      if (mb.credential.flow === 'client_credentials') tokens = await client.clientCredentials();
      else if (mb.credential.flow === 'service_account') tokens = await client.serviceAccount(mb.user);
      else {
        const refreshToken = row.refreshToken ? this.cipher.open(row.refreshToken, `${mailbox}:refresh`) : undefined;
        if (!refreshToken)
          throw Object.assign(new Error('no hay refresh token guardado (o SECRET_KEY cambió)'), {
            reauthCode: 'invalid_grant',
          });
        tokens = await client.refresh(refreshToken);
      }
      const version = await this.store(mailbox, tokens);
      this.log.info(
        {
          mailbox,
          version,
          expiresAt: new Date(tokens.expiresAt).toISOString(),
          rotated: Boolean(tokens.refreshToken),
        },
        'token del buzón renovado',
      );
    } catch (err) {
      await this.recordFailure(mailbox, err, row.failures);
    }
  }

  /** `mesa mailbox login` for an app-only mailbox (client_credentials, service_account): asks for a token right now. */
  async renewAppToken(mailbox: MailboxName): Promise<AccessToken> {
    await this.init();
    await repo.reopenCredential(this.deps.db, mailbox, this.clock());
    const row = await this.row(mailbox);
    await this.refresh(mailbox, row.version);
    return this.accessToken(mailbox);
  }

  /** `mesa mailbox login` (OAUTH_FLOW=browser): the URL to open; `complete()` takes where the browser came back to. */
  async startBrowserLogin(
    mailbox: MailboxName,
    redirectUri: string,
  ): Promise<{ url: string; complete(callback: URL): Promise<TokenSet> }> {
    this.oauthMailbox(mailbox);
    await this.init();
    const login = await this.clients.get(mailbox)!.startBrowserLogin(redirectUri).catch(loginFailed);
    return {
      url: login.url,
      complete: async (callback) => {
        const tokens = await login.complete(callback).catch(loginFailed);
        await this.store(mailbox, tokens);
        return tokens;
      },
    };
  }

  /** `mesa mailbox login` (OAUTH_FLOW=device): starts the device flow; `complete()` waits and stores the tokens. */
  async startLogin(mailbox: MailboxName): Promise<DeviceLogin> {
    const mb = this.oauthMailbox(mailbox);
    if (mb.credential.flow !== 'device')
      throw new MesaError('OAUTH_LOGIN_FAILED', `este buzón usa OAUTH_FLOW=${mb.credential.flow}, no device`);
    await this.init();
    const login = await this.clients.get(mailbox)!.startDeviceLogin().catch(loginFailed);
    return {
      ...login,
      complete: async (signal) => {
        const tokens = await login.complete(signal).catch(loginFailed);
        await this.store(mailbox, tokens);
        return tokens;
      },
    };
  }

  /** Every OAuth2 mailbox's row, for status, /healthz and metrics (no token leaves this module). */
  async states(): Promise<Array<Omit<repo.CredentialRow, 'accessToken' | 'refreshToken'>>> {
    if (this.configs.size === 0) return [];
    await this.init();
    return (await repo.listCredentials(this.deps.db))
      .filter((r) => this.configs.has(r.mailbox as MailboxName))
      .map(({ accessToken: _a, refreshToken: _r, ...rest }) => rest);
  }

  /** Creates the rows of the configured OAuth2 mailboxes (state needs_login until the first sign-in). */
  init(): Promise<void> {
    this.ready ??= (async () => {
      for (const mb of this.configs.values())
        await repo.ensureCredential(this.deps.db, mb.name, mb.credential.flow, mb.credential.provider, this.clock());
    })();
    this.ready.catch(() => (this.ready = undefined));
    return this.ready;
  }

  private async store(mailbox: MailboxName, t: TokenSet): Promise<number> {
    const version = await repo.storeTokens(this.deps.db, mailbox, {
      accessToken: this.cipher.seal(t.accessToken, `${mailbox}:access`),
      refreshToken: t.refreshToken === undefined ? undefined : this.cipher.seal(t.refreshToken, `${mailbox}:refresh`),
      issuedAt: t.issuedAt,
      expiresAt: t.expiresAt,
      scope: t.scope,
      now: this.clock(),
    });
    this.noticeVersion(mailbox, version);
    return version;
  }

  private recordFailure(mailbox: MailboxName, err: unknown, failures: number): Promise<void> {
    const { db, onReauth } = this.deps;
    const user = this.configs.get(mailbox)!.user;
    return recordRefreshFailure({ db, log: this.log, onReauth, user, row: () => this.row(mailbox) }, mailbox, err, {
      failures,
      now: this.clock(),
    });
  }

  private async waitForVersionAfter(mailbox: MailboxName, seen: number, until: number): Promise<void> {
    while (this.clock() < until) {
      const row = await this.row(mailbox);
      if (row.version > seen || row.state === 'needs_reauth' || !row.claimUntil) {
        this.noticeVersion(mailbox, row.version);
        return;
      }
      await sleep(100);
    }
  }

  private noticeVersion(mailbox: MailboxName, version: number): void {
    const before = this.seen.get(mailbox);
    this.seen.set(mailbox, version);
    if (before !== undefined && version > before) this.events.emit(mailbox, version);
  }

  private async row(mailbox: MailboxName): Promise<repo.CredentialRow> {
    await this.init();
    const row = await repo.getCredential(this.deps.db, mailbox);
    if (!row) throw new MesaError('MAILBOX_SIGN_IN_REQUIRED', `falta iniciar sesión en el buzón ${mailbox}`);
    return row;
  }

  private oauthMailbox(mailbox: MailboxName): OAuthMailbox {
    const mb = this.configs.get(mailbox);
    if (!mb) throw new MesaError('CONFIG_INVALID', `el buzón ${mailbox} no usa OAuth2 (IMAP_AUTH=oauth2)`);
    return mb;
  }
}
