import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../src/db/knex.ts';
import { getCredential } from '../../../src/db/repos/mailbox-tokens.ts';
import { cliEnv, runCli, spawnCli } from '../../support/cli.ts';
import { freePort } from '../../support/ports.ts';
import { startOAuthServer, type OAuthServer } from '../../support/oauth-server.ts';
import { waitFor } from '../../support/wait.ts';

// The real `mesa` executable against a real authorization server: the device login an operator runs once.

let oauth: OAuthServer;
beforeAll(async () => {
  oauth = await startOAuthServer({ accessTtlS: 600 });
});
afterAll(async () => {
  await oauth?.close();
});

const mailboxEnv = () => ({
  IMAP_HOST: '127.0.0.1',
  IMAP_USER: 'soporte@mesa.test',
  IMAP_AUTH: 'oauth2',
  OAUTH_PROVIDER: 'oidc',
  OAUTH_ISSUER: oauth.issuer,
  OAUTH_CLIENT_ID: oauth.clientId,
  FALLBACK_IMAP_HOST: '127.0.0.1',
  FALLBACK_IMAP_USER: 'acceso@mesa.test',
  FALLBACK_IMAP_PASSWORD: 'x',
});

describe('mesa mailbox', () => {
  it('login prints the URL and code in Spanish, waits for the sign-in, stores the tokens and never prints them', async () => {
    const { config, env } = await cliEnv(mailboxEnv());
    const before = await runCli(['mailbox', 'status'], { env });
    expect(before.stdout).toContain('soporte (soporte@mesa.test): oauth2 oidc device — falta iniciar sesión');
    expect(before.stdout).toContain('respaldo (acceso@mesa.test): password\n  transporte: IMAP/SMTP');
    expect(before.code).toBe(75);

    const run = spawnCli(['mailbox', 'login', 'soporte'], { env });
    const userCode = await oauth.nextDeviceCode();
    oauth.approveDevice(userCode, 'soporte@mesa.test');
    expect(await run.exited).toBe(0);
    const out = run.output();
    expect(out).toContain(`Abra en el navegador: ${oauth.issuer}/activar`);
    expect(out).toContain(`Escriba este código: ${userCode}`);
    expect(out).toContain('Listo: el buzón de soporte quedó conectado');

    const db = openDatabase(config.database);
    try {
      const row = (await getCredential(db, 'support'))!;
      expect(row.state).toBe('ok');
      expect(row.accessToken).toMatch(/^v1\./);
    } finally {
      await db.destroy();
    }
    const after = await runCli(['mailbox', 'status', '--json'], { env });
    expect(after.code).toBe(0);
    const list = JSON.parse(after.stdout);
    expect(list[0]).toMatchObject({ mailbox: 'support', state: 'ok', kind: 'oauth2 oidc device' });
    // No token anywhere in what the commands printed.
    for (const text of [out, after.stdout, after.stderr]) expect(text).not.toMatch(/\b(at|rt)-[A-Za-z0-9_-]{10,}/);
  });

  it('browser login (authorization code with PKCE): prints the URL, takes the browser back on 127.0.0.1, stores the tokens', async () => {
    const { config, env } = await cliEnv({ ...mailboxEnv(), OAUTH_FLOW: 'browser' });
    oauth.browserUser = 'soporte@mesa.test';
    const run = spawnCli(['mailbox', 'login', 'soporte'], { env });
    const url = await waitFor(
      'la dirección de inicio de sesión',
      () => /https?:\/\/\S+\/authorize\S+/.exec(run.output())?.[0],
    );
    expect(url).toContain('code_challenge_method=S256');
    // The browser: the provider sends it back to Mesa's loopback address.
    const back = (await fetch(url, { redirect: 'manual' })).headers.get('location')!;
    expect(back).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?code=/);
    expect(await (await fetch(back)).text()).toContain('Listo');
    expect(await run.exited).toBe(0);
    expect(run.output()).toContain('Listo: el buzón de soporte quedó conectado');
    expect(run.output()).not.toMatch(/\b(at|rt)-[A-Za-z0-9_-]{10,}/);
    const db = openDatabase(config.database);
    try {
      expect((await getCredential(db, 'support'))!).toMatchObject({ state: 'ok', version: 1 });
    } finally {
      await db.destroy();
    }
  });

  it('names a bad mailbox and a mailbox without OAuth2', async () => {
    const { env } = await cliEnv(mailboxEnv());
    const bad = await runCli(['mailbox', 'login', 'ventas'], { env });
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain('"ventas" no es un buzón configurado');
    const pw = await runCli(['mailbox', 'login', 'respaldo'], { env });
    expect(pw.code).toBe(78);
    expect(pw.stderr).toContain('FALLBACK_IMAP_AUTH=oauth2');
  });

  it('says the identity provider did not answer, with EX_TEMPFAIL, and a refusing one with 70', async () => {
    // Nothing listens on this port: the provider is down (or not reachable from here) — try again later.
    const { env } = await cliEnv({ ...mailboxEnv(), OAUTH_ISSUER: `http://127.0.0.1:${await freePort()}/realms/mesa` });
    const down = await runCli(['mailbox', 'login', 'soporte'], { env });
    expect(down.code).toBe(75);
    expect(down.stderr).toMatch(
      /^mesa: no se conectó el buzón de soporte: El proveedor de identidad no respondió: ECONNREFUSED/,
    );
    // The provider answers, but the issuer is not one (404 for its discovery document): the configuration is wrong.
    const wrong = await runCli(['mailbox', 'login', 'soporte'], {
      env: { ...env, OAUTH_ISSUER: `${oauth.issuer}/no-existe` },
    });
    expect(wrong.code).toBe(70);
    expect(wrong.stderr).toMatch(/No se completó el inicio de sesión: http_404/);
  });
});
