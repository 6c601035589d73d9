import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { getMailboxState } from '../../../src/db/repos/mailbox-state.ts';
import { startPollers } from '../../../src/inbound/readers.ts';
import { testApp } from '../../support/app.ts';
import { freePort } from '../../support/ports.ts';
import { waitFor } from '../../support/wait.ts';

/**
 * An IMAP server that is down must cost Mesa one attempt per backoff, not a busy loop: a connection that failed
 * announces its end ('close') a moment later, and that must not cut the backoff after it short. Found on a `mesa
 * start` left running after its Dovecot was gone: 500 connection attempts and 1000 database writes a second.
 */
let app: App | undefined;
let pollers: ReturnType<typeof startPollers> | undefined;
let server: net.Server | undefined;
afterEach(async () => {
  await pollers?.stop();
  pollers = undefined;
  await app?.close();
  app = undefined;
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

const BACKOFF_MS = 400;
const ATTEMPTS = 5;

async function pollerOn(port: number): Promise<App> {
  const a = await testApp({
    IMAP_HOST: '127.0.0.1',
    IMAP_PORT: String(port),
    IMAP_SECURE: 'false',
    IMAP_USER: 'support',
    IMAP_PASSWORD: 'x',
    IMAP_POLL_SECONDS: '120',
  });
  pollers = startPollers(a, a.config.mailboxes.slice(0, 1), { backoffInitialMs: BACKOFF_MS, backoffMaxMs: BACKOFF_MS });
  return a;
}

describe('IMAP poller with its server down', () => {
  it('waits its backoff between attempts when the server hangs up on every connection', async () => {
    const port = await freePort();
    const seen: number[] = [];
    let enough!: () => void;
    const reached = new Promise<void>((resolve) => (enough = resolve));
    server = net.createServer((socket) => {
      seen.push(performance.now());
      socket.destroy();
      if (seen.length === ATTEMPTS) enough();
    });
    await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    app = await pollerOn(port);
    await reached;
    // Each wait is the backoff with its jitter (0.75–1.25 ×), never the moment the failed connection closed.
    for (let i = 1; i < ATTEMPTS; i++) expect(seen[i] - seen[i - 1]).toBeGreaterThan(BACKOFF_MS * 0.7);
    const state = await getMailboxState(app.db, 'support:INBOX');
    expect(state?.lastError).toMatch(/.+/);
  });

  it('waits its backoff between attempts when the server refuses connections, and records why', async () => {
    const port = await freePort(); // nothing listens there
    const t0 = performance.now();
    app = await pollerOn(port);
    const a = app;
    await waitFor(`${ATTEMPTS} failed attempts recorded`, async () => {
      const s = await getMailboxState(a.db, 'support:INBOX');
      return (s?.errorCount ?? 0) >= ATTEMPTS;
    });
    const elapsed = performance.now() - t0;
    const state = await getMailboxState(a.db, 'support:INBOX');
    // What the operator reads in /healthz and `mesa mailbox status`: the catalogue's words, then the socket's once.
    expect(state?.lastError).toBe(`El servidor IMAP no está disponible: connect ECONNREFUSED 127.0.0.1:${port}`);
    // ATTEMPTS failures take at least ATTEMPTS - 1 backoffs; a busy loop would record hundreds in that time.
    expect(elapsed).toBeGreaterThan((ATTEMPTS - 1) * BACKOFF_MS * 0.7);
    expect(state?.errorCount).toBeLessThanOrEqual(ATTEMPTS + 1);
  });
});
