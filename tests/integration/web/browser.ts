import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../../src/web/server.ts';
import { freePort } from '../../support/smtp-sink.ts';
import { mailWorld, type MailWorld } from '../outbound/fixtures.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Debian's Chromium, headless, with nothing of its own reaching the network. */
export async function launchChromium(): Promise<Browser> {
  // Said as the test Dovecot says it (tests/support/dovecot.ts): what is missing and how to get it.
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no está Chromium (${CHROMIUM}): instálalo con \`apt-get install chromium\` (lo hace .ci/run)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  });
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
    ...w, server, baseUrl,
    async close() {
      await server.close();
      await w.close();
    },
  };
}

export const ARTIFACTS = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../.artifacts');

export function artifactPath(name: string): string {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, name);
}
