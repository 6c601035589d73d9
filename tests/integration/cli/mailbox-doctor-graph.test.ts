import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Config } from '../../../src/config.ts';
import { openDatabase } from '../../../src/db/knex.ts';
import { migrateLatest } from '../../../src/db/migrate.ts';
import { silentLogger } from '../../../src/logger.ts';
import { MailboxTokens } from '../../../src/mailboxes/mailbox-tokens.ts';
import { cliEnv, runCli } from '../../support/cli.ts';
import { startGraphServer, type GraphServer } from '../../support/graph-server.ts';
import { startOAuthServer, type OAuthServer } from '../../support/oauth-server.ts';

// `mesa mailbox doctor` and `mesa mailbox status` for a mailbox on Microsoft Graph (the stub of
// tests/support/graph-server.ts, tokens from a real authorization server): a good setup, then one whose token lacks the
// Graph permissions and whose mailbox Graph refuses; each failing line says what to fix.

let good: OAuthServer;
let bare: OAuthServer;
let graph: GraphServer;
beforeAll(async () => {
  good = await startOAuthServer({ accessTtlS: 600, scope: 'openid offline_access Mail.ReadWrite Mail.Send' });
  bare = await startOAuthServer({ accessTtlS: 600 });
  graph = await startGraphServer({ introspectionUrl: `${good.issuer}/introspect` });
});
afterAll(async () => {
  await graph?.close();
  await good?.close();
  await bare?.close();
});

async function signIn(config: Config, oauth: OAuthServer, user: string): Promise<void> {
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
    oauth.approveDevice(login.userCode, user);
    await done;
  } finally {
    await db.destroy();
  }
}

const graphEnv = (oauth: OAuthServer, user: string) => ({
  SUPPORT_MAILBOX_TRANSPORT: 'graph',
  GRAPH_BASE_URL: graph.baseUrl,
  GRAPH_USER: user,
  OAUTH_PROVIDER: 'oidc',
  OAUTH_ISSUER: oauth.issuer,
  OAUTH_CLIENT_ID: oauth.clientId,
});

it('a good setup: token, Graph permissions and a read of the folder', async () => {
  graph.deliver('support', Buffer.from('Subject: hola\r\n\r\nhola\r\n'));
  const { config, env } = await cliEnv(graphEnv(good, 'support'));
  await signIn(config, good, 'support');
  const out = await runCli(['mailbox', 'doctor', 'soporte'], { env });
  expect(out.stdout).toContain(`Buzón de soporte (support), Microsoft Graph en ${graph.baseUrl}`);
  expect(out.stdout).toContain('✔ hay un token de acceso válido');
  expect(out.stdout).toContain('✔ el token trae los permisos de Microsoft Graph (Mail.Read, Mail.Send)');
  expect(out.stdout).toContain('✔ Microsoft Graph lee la carpeta inbox (1 correos)');
  expect(out.stdout).toContain('Todo en orden.');
  expect(out.code).toBe(0);
  expect(out.stdout).not.toMatch(/\bat-[A-Za-z0-9_-]{10,}/);

  const status = await runCli(['mailbox', 'status'], { env });
  expect(status.stdout).toContain('soporte (support): oauth2 oidc device — sesión iniciada');
  expect(status.stdout).toContain('  transporte: Microsoft Graph');
  expect(JSON.parse((await runCli(['mailbox', 'status', '--json'], { env })).stdout)[0].transport).toBe('graph');
});

it('a bad setup: no Graph permissions in the token, the mailbox refused, and what to fix', async () => {
  // Tokens from another server Graph does not know (as tokens for Exchange Online's IMAP instead of Graph's).
  const { config, env } = await cliEnv(graphEnv(bare, 'support'));
  await signIn(config, bare, 'support');
  const wrongToken = await runCli(['mailbox', 'doctor', 'soporte'], { env });
  expect(wrongToken.code).toBe(75);
  expect(wrongToken.stdout).toContain('✘ el token no trae los permisos de Microsoft Graph: Mail.Read, Mail.Send.');
  expect(wrongToken.stdout).toContain('✘ Microsoft Graph rechaza el token (401 InvalidAuthenticationToken)');
  expect(wrongToken.stdout).toContain('mesa mailbox login soporte');

  // A good token, but the mailbox is out of the application's reach (403), and one with no sign-in at all.
  graph.deny('otro');
  const denied = await cliEnv(graphEnv(good, 'otro'));
  await signIn(denied.config, good, 'otro');
  const refused = await runCli(['mailbox', 'doctor', 'soporte'], { env: denied.env });
  expect(refused.code).toBe(75);
  expect(refused.stdout).toContain(
    '✘ Microsoft Graph niega el acceso al buzón otro (403 ErrorAccessDenied): conceda Mail.ReadWrite y Mail.Send',
  );
  const never = await runCli(['mailbox', 'doctor', 'soporte'], { env: (await cliEnv(graphEnv(good, 'support'))).env });
  expect(never.stdout).toContain('✘ sin token de acceso');
  expect(never.stdout).toContain('Ejecute: mesa mailbox login soporte');
});
