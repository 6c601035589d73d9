import type { FastifyInstance } from 'fastify';
import type { App } from '../../src/app.ts';
import { startPollers } from '../../src/inbound/readers.ts';
import { buildServer } from '../../src/web/server.ts';
import { testApp } from './app.ts';
import { startDovecot, type Dovecot } from './dovecot.ts';
import { freePort } from './ports.ts';
import { startSmtpSink, type SmtpSink } from './smtp-sink.ts';

/**
 * Mesa with its real neighbours, for the tests that need more than a database: each world adds one to the one
 * before. mailWorld: a real SMTP sink the dispatcher sends to. liveWorld: also the web server, listening on a free
 * loopback port. mailboxWorld: also a real Dovecot whose support mailbox the IMAP poller reads.
 */

export interface MailWorld {
  app: App;
  sink: SmtpSink;
  ingest(raw: Buffer): ReturnType<App['ingest']['ingest']>;
  close(): Promise<void>;
}

/** An app whose dispatcher sends to a real SMTP sink, started. */
export async function mailWorld(
  env: Record<string, string> = {},
  opts: { clock?: () => number; start?: boolean; sink?: Parameters<typeof startSmtpSink>[0] } = {},
): Promise<MailWorld> {
  const sink = await startSmtpSink(opts.sink);
  const app = await testApp(
    {
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(sink.port),
      SMTP_SECURE: 'false',
      OUTBOX_POLL_MS: '50',
      OUTBOX_RETRY_BASE_MS: '100',
      OUTBOX_RETRY_MAX_MS: '400',
      ...env,
    },
    { clock: opts.clock },
  ).catch(async (err) => {
    await sink.close();
    throw err;
  });
  if (opts.start !== false) app.outbound.dispatcher.start();
  let n = 0;
  return {
    app,
    sink,
    ingest: (raw) => app.ingest.ingest(raw, { kind: 'file', path: `test-${++n}.eml` }),
    async close() {
      await app.close();
      await sink.close();
    },
  };
}

/** Mesa with a real SMTP sink, its dispatcher running, and its web server listening on a free loopback port. */
export interface LiveWorld extends MailWorld {
  server: FastifyInstance;
  baseUrl: string;
}

export async function liveWorld(env: Record<string, string> = {}): Promise<LiveWorld> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const w = await mailWorld({ PUBLIC_URL: baseUrl, HTTP_PORT: String(port), ...env });
  const server = buildServer(w.app);
  await server.listen({ host: '127.0.0.1', port });
  return {
    ...w,
    server,
    baseUrl,
    async close() {
      await server.close();
      await w.close();
    },
  };
}

/** The keys that point Mesa at a test Dovecot's support mailbox, read by the IMAP poller every second. */
export function supportMailboxEnv(dovecot: Dovecot): Record<string, string> {
  return {
    IMAP_HOST: dovecot.host,
    IMAP_PORT: String(dovecot.port),
    IMAP_SECURE: 'false',
    IMAP_USER: 'support',
    IMAP_PASSWORD: dovecot.users.support.password,
    IMAP_POLL_SECONDS: '1',
  };
}

/** A live world whose mail comes in as in production: appended to a real Dovecot, taken by the IMAP poller. */
export interface MailboxWorld extends LiveWorld {
  dovecot: Dovecot;
}

export async function mailboxWorld(env: Record<string, string> = {}): Promise<MailboxWorld> {
  const dovecot = await startDovecot({ users: ['support'] });
  const w = await liveWorld({ ...supportMailboxEnv(dovecot), ...env }).catch(async (err) => {
    await dovecot.stop();
    throw err;
  });
  const pollers = startPollers(w.app, w.app.config.mailboxes, { backoffInitialMs: 100, backoffMaxMs: 800 });
  return {
    ...w,
    dovecot,
    async close() {
      await pollers.stop();
      await w.close();
      await dovecot.stop();
    },
  };
}
