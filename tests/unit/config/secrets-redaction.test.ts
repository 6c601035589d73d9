import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.ts';
import { createLogger } from '../../../src/logger.ts';
import { TokenCipher } from '../../../src/mailboxes/token-cipher.ts';

describe('OAuth2 secrets', () => {
  it('never reach the log, whichever object carries them', () => {
    let out = '';
    const sink = new Writable({
      write(chunk, _enc, cb) {
        out += chunk;
        cb();
      },
    });
    const log = createLogger({ level: 'info', destination: sink });
    const config = loadConfig({
      SUPPORT_ADDRESS: 'soporte@acme.co',
      SECRET_KEY: '7c2e9a4f1b8d3e6a0c5f9b2d4e7a1c8f3b6d0e9a',
      IMAP_HOST: 'outlook.office365.com',
      IMAP_USER: 'soporte@acme.co',
      IMAP_AUTH: 'oauth2',
      OAUTH_PROVIDER: 'microsoft',
      OAUTH_FLOW: 'client_credentials',
      OAUTH_TENANT: '0e4b6c1a-1111-4222-8333-444455556666',
      OAUTH_CLIENT_ID: 'app-id',
      OAUTH_CLIENT_SECRET: 'SECRETO-CLIENTE',
    });
    log.info(
      {
        accessToken: 'AT-SECRETO',
        refreshToken: 'RT-SECRETO',
        tokens: { access_token: 'AT2-SECRETO', refresh_token: 'RT2-SECRETO' },
      },
      'tokens',
    );
    log.info({ mailbox: config.mailboxes[0] }, 'buzón');
    log.info(config, 'config');
    expect(out).toContain('[oculto]');
    for (const secret of ['AT-SECRETO', 'RT-SECRETO', 'AT2-SECRETO', 'RT2-SECRETO', 'SECRETO-CLIENTE'])
      expect(out).not.toContain(secret);
  });

  it('are sealed per row and field: another SECRET_KEY, row or field does not open them', () => {
    const a = new TokenCipher('k'.repeat(40));
    const sealed = a.seal('rt-secreto', 'support:refresh');
    expect(sealed).not.toContain('rt-secreto');
    expect(a.open(sealed, 'support:refresh')).toBe('rt-secreto');
    expect(a.open(sealed, 'fallback:refresh')).toBeUndefined();
    expect(a.open(sealed, 'support:access')).toBeUndefined();
    expect(new TokenCipher('j'.repeat(40)).open(sealed, 'support:refresh')).toBeUndefined();
    expect(a.seal('rt-secreto', 'support:refresh')).not.toBe(sealed);
  });
});
