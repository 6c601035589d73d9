import fs from 'node:fs';
import { z } from 'zod';

/**
 * How each mailbox (support, fallback) proves who it is to IMAP and SMTP: a password, a fixed access token (kept for
 * setups that mint tokens outside Mesa), or OAuth2 with tokens Mesa obtains, stores and refreshes itself
 * (src/mailboxes/). Read from the environment by src/config.ts; every bad value is named by its key.
 *
 * OAuth2 providers are all reached as OpenID Connect issuers (discovery, token endpoint, device authorization
 * endpoint): Microsoft 365 at https://login.microsoftonline.com/<tenant>/v2.0, Google at https://accounts.google.com,
 * and any other (Keycloak, a self-hosted Dovecot's provider) by its issuer URL.
 */

export type OAuthProvider = 'microsoft' | 'google' | 'oidc';
/** How a mailbox is read and written: IMAP/SMTP, or Microsoft Graph's REST API (src/config-graph.ts). */
export type MailboxTransport = 'imap' | 'graph';
/**
 * How the refresh token is obtained: `device`, a person signs in once with a code (RFC 8628); `browser`, a person signs
 * in once in a browser that comes back to this machine (authorization code with PKCE, RFC 8252: Google's way for
 * installed apps, its device flow does not grant mail scopes); `client_credentials`, app-only, nobody signs in;
 * `service_account`, Google Workspace's service account with domain-wide delegation (RFC 7523 JWT bearer grant, the
 * mailbox's address as subject), nobody signs in either.
 */
export type OAuthFlow = 'device' | 'browser' | 'client_credentials' | 'service_account';

/** The fields Mesa uses of a Google service account key file (the JSON the console downloads). */
export type ServiceAccountKey = Readonly<{
  clientEmail: string;
  privateKey: string;
  privateKeyId?: string;
  tokenUri: string;
}>;

/** Flows where no person signs in: Mesa asks the provider for each token itself. */
export const appOnly = (flow: OAuthFlow) => flow === 'client_credentials' || flow === 'service_account';

export type OAuthSettings = Readonly<{
  provider: OAuthProvider;
  flow: OAuthFlow;
  issuer: string;
  clientId: string;
  clientSecret?: string;
  /** When the client secret stops working (OAUTH_CLIENT_SECRET_EXPIRES, epoch ms): for the gauge and the status. */
  clientSecretExpiresAt?: number;
  /** OAUTH_FLOW=service_account: the key read from OAUTH_SERVICE_ACCOUNT_FILE. */
  serviceAccount?: ServiceAccountKey;
  scopes: readonly string[];
}>;

export type MailboxCredential =
  Readonly<{ kind: 'password' }> | Readonly<{ kind: 'static_token' }> | (Readonly<{ kind: 'oauth2' }> & OAuthSettings);

/** Scopes asked for when OAUTH_SCOPES is not set. Microsoft's IMAP and SMTP scopes belong to Exchange Online's
 * resource (outlook.office.com); app-only tokens take the resource's `.default`. Google's one scope covers both. */
export function defaultScopes(
  provider: OAuthProvider,
  flow: OAuthFlow,
  transport: MailboxTransport = 'imap',
): string[] {
  if (provider === 'microsoft' && transport === 'graph') return graphScopes(flow);
  if (provider === 'microsoft') {
    return flow === 'client_credentials'
      ? ['https://outlook.office365.com/.default']
      : ['https://outlook.office.com/IMAP.AccessAsUser.All', 'https://outlook.office.com/SMTP.Send', 'offline_access'];
  }
  if (provider === 'google') return ['https://mail.google.com/'];
  return flow === 'client_credentials' ? [] : ['openid', 'offline_access'];
}

/** Delegated scopes a Graph mailbox needs (read and move its mail, send as it); app-only takes the resource's
 * `.default` (application permissions Mail.ReadWrite and Mail.Send, granted by an admin). */
export function graphScopes(flow: OAuthFlow): string[] {
  return flow === 'client_credentials'
    ? ['https://graph.microsoft.com/.default']
    : ['https://graph.microsoft.com/Mail.ReadWrite', 'https://graph.microsoft.com/Mail.Send', 'offline_access'];
}

const TENANT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The env keys of one mailbox's credential, by prefix: `` for support, `FALLBACK_` for fallback. */
export function credentialKeys(prefix: '' | 'FALLBACK_') {
  return {
    [`${prefix}IMAP_AUTH`]: z.enum(['password', 'oauth2'], { message: 'debe ser password u oauth2' }).optional(),
    [`${prefix}OAUTH_PROVIDER`]: z
      .enum(['microsoft', 'google', 'oidc'], { message: 'debe ser microsoft, google u oidc' })
      .optional(),
    [`${prefix}OAUTH_FLOW`]: z
      .enum(['device', 'browser', 'client_credentials', 'service_account'], {
        message: 'debe ser device, browser, client_credentials o service_account',
      })
      .optional(),
    [`${prefix}OAUTH_TENANT`]: z
      .string()
      .trim()
      .refine((v) => TENANT_ID.test(v), 'debe ser el ID del inquilino (GUID) que muestra Entra ID')
      .optional(),
    [`${prefix}OAUTH_ISSUER`]: z
      .string()
      .trim()
      .url('debe ser la URL del emisor (issuer), p. ej. https://sso.suempresa.com/realms/mesa')
      .optional(),
    [`${prefix}OAUTH_CLIENT_ID`]: z.string().trim().min(1).optional(),
    [`${prefix}OAUTH_CLIENT_SECRET`]: z.string().optional(),
    [`${prefix}OAUTH_SCOPES`]: z.string().trim().optional(),
    [`${prefix}OAUTH_SERVICE_ACCOUNT_FILE`]: z.string().trim().optional(),
    [`${prefix}OAUTH_CLIENT_SECRET_EXPIRES`]: z
      .string()
      .trim()
      .refine(
        (v) => /^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(Date.parse(`${v}T00:00:00Z`)),
        'debe ser una fecha AAAA-MM-DD (la que muestra el proveedor al crear el secreto)',
      )
      .optional(),
  } as Record<string, z.ZodType<string | undefined>>;
}

/** The credential of the mailbox whose keys start with `prefix`; problems are appended by key name. A mailbox on
 * Microsoft Graph (src/config-graph.ts) is always OAuth2: IMAP_AUTH may be left out. */
export function credentialFrom(
  e: Record<string, unknown>,
  prefix: '' | 'FALLBACK_',
  problems: string[],
  transport: MailboxTransport = 'imap',
): MailboxCredential {
  const get = (key: string) => e[`${prefix}${key}`] as string | undefined;
  const auth =
    get('IMAP_AUTH') ?? (transport === 'graph' ? 'oauth2' : get('IMAP_ACCESS_TOKEN') ? 'static_token' : 'password');
  if (auth === 'password' && transport === 'graph') return { kind: 'password' }; // refused by name in graphFrom()
  if (auth === 'password') {
    if (!get('IMAP_PASSWORD') && !get('IMAP_ACCESS_TOKEN'))
      problems.push(`${prefix}IMAP_PASSWORD: falta (o ${prefix}IMAP_AUTH=oauth2)`);
    return { kind: 'password' };
  }
  if (auth === 'static_token') return { kind: 'static_token' };

  const provider = get('OAUTH_PROVIDER') as OAuthProvider | undefined;
  const flow = (get('OAUTH_FLOW') ?? (provider === 'google' ? 'browser' : 'device')) as OAuthFlow;
  const clientId = get('OAUTH_CLIENT_ID');
  const clientSecret = get('OAUTH_CLIENT_SECRET');
  if (!provider)
    problems.push(
      `${prefix}OAUTH_PROVIDER: falta (obligatoria con ${prefix}IMAP_AUTH=oauth2): microsoft, google u oidc`,
    );
  if (!clientId && flow !== 'service_account')
    problems.push(
      `${prefix}OAUTH_CLIENT_ID: falta (obligatoria con ${prefix}IMAP_AUTH=oauth2): el ID de la aplicación registrada`,
    );
  if (flow === 'client_credentials' && !clientSecret)
    problems.push(`${prefix}OAUTH_CLIENT_SECRET: falta (obligatoria con ${prefix}OAUTH_FLOW=client_credentials)`);
  if (provider === 'google' && !clientSecret && flow !== 'service_account')
    problems.push(`${prefix}OAUTH_CLIENT_SECRET: falta (Google la pide también a las aplicaciones de escritorio)`);
  if (flow === 'client_credentials' && provider === 'google')
    problems.push(
      `${prefix}OAUTH_FLOW: Google no admite client_credentials para correo; use browser o service_account`,
    );
  if (flow === 'service_account' && provider !== 'google')
    problems.push(`${prefix}OAUTH_FLOW: service_account es solo para OAUTH_PROVIDER=google`);
  const serviceAccount =
    flow === 'service_account'
      ? readServiceAccount(get('OAUTH_SERVICE_ACCOUNT_FILE'), `${prefix}OAUTH_SERVICE_ACCOUNT_FILE`, problems)
      : undefined;
  let issuer = '';
  if (provider === 'microsoft') {
    const tenant = get('OAUTH_TENANT');
    if (!tenant)
      problems.push(
        `${prefix}OAUTH_TENANT: falta (obligatoria con ${prefix}OAUTH_PROVIDER=microsoft): ` +
          'el ID del inquilino de Entra ID',
      );
    issuer = `https://login.microsoftonline.com/${tenant ?? ''}/v2.0`;
  } else if (provider === 'google') {
    issuer = 'https://accounts.google.com';
  } else if (provider === 'oidc') {
    issuer = get('OAUTH_ISSUER') ?? '';
    if (!issuer)
      problems.push(`${prefix}OAUTH_ISSUER: falta (obligatoria con ${prefix}OAUTH_PROVIDER=oidc): la URL del emisor`);
    else if (!isSafeIssuer(issuer))
      problems.push(`${prefix}OAUTH_ISSUER: debe usar https:// (http:// solo hacia esta misma máquina)`);
  }
  const scopes =
    get('OAUTH_SCOPES')
      ?.split(/[\s,]+/)
      .filter(Boolean) ?? defaultScopes(provider ?? 'oidc', flow, transport);
  const expires = get('OAUTH_CLIENT_SECRET_EXPIRES');
  const clientSecretExpiresAt = expires ? Date.parse(`${expires}T00:00:00Z`) : undefined;
  return {
    kind: 'oauth2',
    provider: provider ?? 'oidc',
    flow,
    issuer,
    clientId: clientId ?? '',
    clientSecret,
    clientSecretExpiresAt,
    serviceAccount,
    scopes,
  };
}

/** Tokens and secrets travel to the issuer: plain HTTP only to this same machine (a local Keycloak, the tests). */
export function isSafeIssuer(issuer: string): boolean {
  const url = new URL(issuer);
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname));
}

export function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** Reads the service account's key file at start, so a missing or wrong file is reported by its key like any value. */
function readServiceAccount(file: string | undefined, key: string, problems: string[]): ServiceAccountKey | undefined {
  if (!file) {
    problems.push(
      `${key}: falta (obligatoria con OAUTH_FLOW=service_account): la ruta del archivo JSON de la cuenta de servicio`,
    );
    return undefined;
  }
  try {
    const j = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    if (typeof j.client_email !== 'string' || typeof j.private_key !== 'string')
      throw new Error('sin client_email o private_key');
    return {
      clientEmail: j.client_email,
      privateKey: j.private_key,
      privateKeyId: typeof j.private_key_id === 'string' ? j.private_key_id : undefined,
      tokenUri: typeof j.token_uri === 'string' ? j.token_uri : 'https://oauth2.googleapis.com/token',
    };
  } catch (err) {
    // Never the parser's message: it may quote the file's contents, which hold the private key.
    const why =
      err instanceof SyntaxError
        ? 'no es JSON válido'
        : ((err as NodeJS.ErrnoException).code ?? (err as Error).message);
    problems.push(`${key}: no es un archivo de clave de cuenta de servicio legible (${why})`);
    return undefined;
  }
}
