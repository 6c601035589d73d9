import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase } from '../../../src/db/knex.ts';
import { silentLogger } from '../../../src/logger.ts';
import { MailboxTokens } from '../../../src/mailboxes/mailbox-tokens.ts';
import { migrateLatest } from '../../../src/db/migrate.ts';
import { cliEnv, runCli } from '../../support/cli.ts';
import { startDovecot, type Dovecot } from '../../support/dovecot.ts';
import { startOAuthServer, type OAuthServer } from '../../support/oauth-server.ts';
import { startSmtpSink, type SmtpSink } from '../../support/smtp-sink.ts';
import { supportMailboxEnv } from '../../support/worlds.ts';

// `mesa mailbox doctor` against a real Dovecot (oauth2 passdb), a real XOAUTH2 SMTP server and a real authorization
// server: all good first, then the provider revokes the tokens and the doctor says which check fails and what to do.

let oauth: OAuthServer;
let dovecot: Dovecot;
let sink: SmtpSink;
beforeAll(async () => {
  oauth = await startOAuthServer({ accessTtlS: 600 });
  const introspectionUrl = `${oauth.issuer}/introspect`;
  dovecot = await startDovecot({ users: ['support'], oauth2: { introspectionUrl } });
  sink = await startSmtpSink({ oauth2: { introspectionUrl } });
});
afterAll(async () => {
  await sink?.close();
  await dovecot?.stop();
  await oauth?.close();
});

it('checks token, IMAP and SMTP in one go, and names what fails', async () => {
  const { config, env } = await cliEnv({
    IMAP_HOST: dovecot.host,
    IMAP_PORT: String(dovecot.port),
    IMAP_SECURE: 'false',
    IMAP_USER: 'support',
    IMAP_AUTH: 'oauth2',
    OAUTH_PROVIDER: 'oidc',
    OAUTH_ISSUER: oauth.issuer,
    OAUTH_CLIENT_ID: oauth.clientId,
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: String(sink.port),
    SMTP_SECURE: 'false',
    SMTP_AUTH: 'oauth2',
  });
  const missing = await runCli(['mailbox', 'doctor', 'soporte'], { env });
  expect(missing.code).toBe(75);
  expect(missing.stdout).toContain('✘ sin token de acceso');
  expect(missing.stdout).toContain('mesa mailbox login soporte');

  const db = openDatabase(config.database);
  try {
    await migrateLatest(db);
    const tokens = new MailboxTokens({
      db,
      secretKey: config.secretKey,
      mailboxes: config.mailboxes,
      logger: silentLogger,
    });
    const login = await tokens.startLogin('support');
    const done = login.complete();
    oauth.approveDevice(login.userCode, 'support');
    await done;
  } finally {
    await db.destroy();
  }
  const good = await runCli(['mailbox', 'doctor', 'soporte'], { env });
  expect(good.stdout).toContain('✔ hay un token de acceso válido');
  expect(good.stdout).toContain('✔ el servidor IMAP acepta la credencial');
  expect(good.stdout).toContain('✔ el servidor SMTP acepta el token');
  expect(good.stdout).toContain('Todo en orden.');
  expect(good.code).toBe(0);

  oauth.revokeAccessTokens('support');
  const revoked = await runCli(['mailbox', 'doctor', 'soporte'], { env });
  expect(revoked.code).toBe(75);
  expect(revoked.stdout).toContain('✘ el servidor IMAP rechaza la credencial');
  expect(revoked.stdout).toContain('✘ el servidor SMTP rechaza el token');
  for (const out of [missing.stdout, good.stdout, revoked.stdout]) expect(out).not.toMatch(/\bat-[A-Za-z0-9_-]{10,}/);
});

it('says whether the folder to read is there, naming the key to fix', async () => {
  await dovecot.append(
    'support',
    'From: ana@cliente.co\r\nSubject: uno\r\nMessage-ID: <doc-1@cliente.co>\r\n\r\nHola\r\n',
  );
  const { env } = await cliEnv(supportMailboxEnv(dovecot));
  const good = await runCli(['mailbox', 'doctor', 'soporte'], { env });
  expect(good.stdout).toContain('✔ el servidor IMAP acepta la credencial');
  expect(good.stdout).toMatch(/✔ la carpeta «INBOX» existe \(\d+ correos\)/);
  expect(good.code).toBe(0);

  const typo = await runCli(['mailbox', 'doctor', 'soporte'], { env: { ...env, IMAP_MAILBOX: 'Soprte' } });
  expect(typo.stdout).toContain('✔ el servidor IMAP acepta la credencial');
  expect(typo.stdout).toMatch(/✘ no se puede abrir la carpeta «Soprte».*: revise IMAP_MAILBOX/);
  expect(typo.stdout).toContain('1 problema(s) por resolver.');
  expect(typo.code).toBe(75);
});
