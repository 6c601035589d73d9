import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.ts';
import { isMesaError } from '../../../src/errors.ts';

const base = {
  SUPPORT_ADDRESS: 'soporte@acme.co',
  SECRET_KEY: '7c2e9a4f1b8d3e6a0c5f9b2d4e7a1c8f3b6d0e9a',
  IMAP_HOST: 'outlook.office365.com',
  IMAP_USER: 'soporte@acme.co',
};
const TENANT = '0e4b6c1a-1111-4222-8333-444455556666';

function problems(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    if (isMesaError(err, 'CONFIG_INVALID')) return err.message;
    throw err;
  }
  return '';
}

describe('mailbox credentials in the config', () => {
  it('keeps a password (and a fixed token) as before', () => {
    expect(loadConfig({ ...base, IMAP_PASSWORD: 'p' }).mailboxes[0].credential).toEqual({ kind: 'password' });
    expect(loadConfig({ ...base, IMAP_ACCESS_TOKEN: 't' }).mailboxes[0].credential).toEqual({ kind: 'static_token' });
    expect(problems(base)).toContain('IMAP_PASSWORD: falta');
  });

  it('builds Microsoft 365 delegated and app-only, Google and generic OIDC credentials with their issuers and scopes', () => {
    const ms = loadConfig({
      ...base,
      IMAP_AUTH: 'oauth2',
      OAUTH_PROVIDER: 'microsoft',
      OAUTH_TENANT: TENANT,
      OAUTH_CLIENT_ID: 'app',
    }).mailboxes[0].credential;
    expect(ms).toMatchObject({
      kind: 'oauth2',
      flow: 'device',
      issuer: `https://login.microsoftonline.com/${TENANT}/v2.0`,
    });
    expect(ms.kind === 'oauth2' && ms.scopes).toEqual([
      'https://outlook.office.com/IMAP.AccessAsUser.All',
      'https://outlook.office.com/SMTP.Send',
      'offline_access',
    ]);
    const app = loadConfig({
      ...base,
      IMAP_AUTH: 'oauth2',
      OAUTH_PROVIDER: 'microsoft',
      OAUTH_FLOW: 'client_credentials',
      OAUTH_TENANT: TENANT,
      OAUTH_CLIENT_ID: 'app',
      OAUTH_CLIENT_SECRET: 's',
    }).mailboxes[0].credential;
    expect(app).toMatchObject({ flow: 'client_credentials', scopes: ['https://outlook.office365.com/.default'] });
    const dated = loadConfig({
      ...base,
      IMAP_AUTH: 'oauth2',
      OAUTH_PROVIDER: 'microsoft',
      OAUTH_FLOW: 'client_credentials',
      OAUTH_TENANT: TENANT,
      OAUTH_CLIENT_ID: 'app',
      OAUTH_CLIENT_SECRET: 's',
      OAUTH_CLIENT_SECRET_EXPIRES: '2027-06-30',
    }).mailboxes[0].credential;
    expect(dated).toMatchObject({ clientSecretExpiresAt: Date.parse('2027-06-30T00:00:00Z') });
    expect(
      problems({
        ...base,
        IMAP_AUTH: 'oauth2',
        OAUTH_PROVIDER: 'oidc',
        OAUTH_ISSUER: 'https://sso.acme.co',
        OAUTH_CLIENT_ID: 'a',
        OAUTH_CLIENT_SECRET_EXPIRES: '30/06/2027',
      }),
    ).toContain('OAUTH_CLIENT_SECRET_EXPIRES: debe ser una fecha AAAA-MM-DD');
    const google = loadConfig({
      ...base,
      IMAP_AUTH: 'oauth2',
      OAUTH_PROVIDER: 'google',
      OAUTH_CLIENT_ID: 'c',
      OAUTH_CLIENT_SECRET: 's',
    }).mailboxes[0].credential;
    expect(google).toMatchObject({
      flow: 'browser',
      issuer: 'https://accounts.google.com',
      scopes: ['https://mail.google.com/'],
    });
    expect(problems({ ...base, IMAP_AUTH: 'oauth2', OAUTH_PROVIDER: 'google', OAUTH_CLIENT_ID: 'c' })).toContain(
      'OAUTH_CLIENT_SECRET: falta (Google',
    );
    const oidc = loadConfig({
      ...base,
      IMAP_AUTH: 'oauth2',
      OAUTH_PROVIDER: 'oidc',
      OAUTH_ISSUER: 'https://sso.acme.co/realms/mesa',
      OAUTH_CLIENT_ID: 'c',
      OAUTH_SCOPES: 'openid offline_access imap',
    }).mailboxes[0].credential;
    expect(oidc).toMatchObject({
      issuer: 'https://sso.acme.co/realms/mesa',
      scopes: ['openid', 'offline_access', 'imap'],
    });
  });

  it('names every bad or missing OAuth2 key', () => {
    expect(problems({ ...base, IMAP_AUTH: 'oauth' })).toContain('IMAP_AUTH: debe ser password u oauth2');
    const msg = problems({
      ...base,
      IMAP_AUTH: 'oauth2',
      OAUTH_PROVIDER: 'microsoft',
      OAUTH_FLOW: 'client_credentials',
    });
    for (const key of ['OAUTH_CLIENT_ID: falta', 'OAUTH_CLIENT_SECRET: falta', 'OAUTH_TENANT: falta'])
      expect(msg).toContain(key);
    expect(
      problems({
        ...base,
        IMAP_AUTH: 'oauth2',
        OAUTH_PROVIDER: 'microsoft',
        OAUTH_TENANT: 'contoso.com',
        OAUTH_CLIENT_ID: 'a',
      }),
    ).toContain('OAUTH_TENANT: debe ser el ID del inquilino');
    expect(
      problems({
        ...base,
        IMAP_AUTH: 'oauth2',
        OAUTH_PROVIDER: 'oidc',
        OAUTH_ISSUER: 'http://sso.acme.co',
        OAUTH_CLIENT_ID: 'a',
      }),
    ).toContain('OAUTH_ISSUER: debe usar https://');
    expect(problems({ ...base, IMAP_AUTH: 'oauth2', OAUTH_PROVIDER: 'yahoo', OAUTH_CLIENT_ID: 'a' })).toContain(
      'OAUTH_PROVIDER: debe ser microsoft, google u oidc',
    );
    expect(
      problems({
        ...base,
        IMAP_AUTH: 'oauth2',
        OAUTH_PROVIDER: 'google',
        OAUTH_FLOW: 'client_credentials',
        OAUTH_CLIENT_ID: 'a',
        OAUTH_CLIENT_SECRET: 's',
      }),
    ).toContain('OAUTH_FLOW: Google no admite');
    expect(
      problems({ ...base, IMAP_AUTH: 'oauth2', OAUTH_PROVIDER: 'google', OAUTH_FLOW: 'service_account' }),
    ).toContain('OAUTH_SERVICE_ACCOUNT_FILE: falta');
    const leak = problems({
      ...base,
      IMAP_AUTH: 'oauth2',
      OAUTH_PROVIDER: 'google',
      OAUTH_FLOW: 'service_account',
      OAUTH_SERVICE_ACCOUNT_FILE: import.meta.filename,
    });
    expect(leak).toContain(
      'OAUTH_SERVICE_ACCOUNT_FILE: no es un archivo de clave de cuenta de servicio legible (no es JSON válido)',
    );
    expect(
      problems({
        ...base,
        IMAP_AUTH: 'oauth2',
        OAUTH_PROVIDER: 'microsoft',
        OAUTH_TENANT: TENANT,
        OAUTH_CLIENT_ID: 'a',
        OAUTH_FLOW: 'service_account',
        OAUTH_SERVICE_ACCOUNT_FILE: '/nada',
      }),
    ).toMatch(/OAUTH_FLOW: service_account es solo para OAUTH_PROVIDER=google.*OAUTH_SERVICE_ACCOUNT_FILE: .*ENOENT/s);
    expect(problems({ ...base, IMAP_PASSWORD: 'p', SMTP_HOST: 'smtp.office365.com', SMTP_AUTH: 'oauth2' })).toContain(
      'SMTP_AUTH: oauth2 usa el token del buzón de soporte',
    );
    expect(
      problems({
        ...base,
        IMAP_PASSWORD: 'p',
        FALLBACK_IMAP_HOST: 'h',
        FALLBACK_IMAP_USER: 'u',
        FALLBACK_ADDRESS: 'a@acme.co',
        FALLBACK_IMAP_AUTH: 'oauth2',
      }),
    ).toMatch(/FALLBACK_OAUTH_PROVIDER: falta.*FALLBACK_OAUTH_CLIENT_ID: falta/s);
  });

  it('lets plain HTTP reach only this machine, and SMTP take the support token with its user', () => {
    const local = loadConfig({
      ...base,
      IMAP_AUTH: 'oauth2',
      OAUTH_PROVIDER: 'oidc',
      OAUTH_ISSUER: 'http://127.0.0.1:8081/realms/mesa',
      OAUTH_CLIENT_ID: 'a',
      SMTP_HOST: 'smtp',
      SMTP_AUTH: 'oauth2',
    });
    expect(local.outbound.smtp).toMatchObject({ auth: 'oauth2', user: 'soporte@acme.co' });
  });
});
