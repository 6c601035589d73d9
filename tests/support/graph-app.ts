import type { App } from '../../src/app.ts';
import type { Env } from '../../src/config.ts';
import { testApp } from './app.ts';
import type { GraphServer } from './graph-server.ts';
import type { OAuthServer } from './oauth-server.ts';

/**
 * A Mesa whose support mailbox is `support` on the Graph stub, signed in as an operator does it (`mesa mailbox
 * login`: the device code, approved at the real authorization server): its readers are not started.
 */
export async function graphSupportApp(oauth: OAuthServer, graph: GraphServer, env: Env = {}): Promise<App> {
  const app = await testApp({
    SUPPORT_MAILBOX_TRANSPORT: 'graph',
    GRAPH_BASE_URL: graph.baseUrl,
    GRAPH_USER: 'support',
    OAUTH_PROVIDER: 'oidc',
    OAUTH_ISSUER: oauth.issuer,
    OAUTH_CLIENT_ID: oauth.clientId,
    IMAP_POLL_SECONDS: '1',
    ...env,
  });
  const login = await app.tokens.startLogin('support');
  const done = login.complete();
  oauth.approveDevice(login.userCode, 'support');
  await done;
  return app;
}
