import { afterEach, describe, expect, it } from 'vitest';
import { cliEnv, startMesa, stopMesa, type RunningCli } from '../../support/cli.ts';

// The built `mesa start` behind a reverse proxy (TRUST_PROXY=true: the client is X-Forwarded-For's address), as a
// customer's browser, a balancer and Prometheus reach it. /metrics tells how many mails and cases the desk handles and
// /healthz each mailbox's folder and last error as its server said it: only this machine, the private networks and
// MONITORING_TOKEN read them; from the internet /healthz answers its status code and a word, /metrics is not there.

const TOKEN = 'vigilancia-3f9c1e0b7a6d4c2e';
let mesa: RunningCli | undefined;
afterEach(async () => {
  await stopMesa(mesa);
  mesa = undefined;
});

async function get(base: string, path: string, headers: Record<string, string>) {
  const res = await fetch(`${base}${path}`, { headers });
  return { status: res.status, body: await res.text() };
}

describe('monitoring from outside', () => {
  it('gives the internet only the status of /healthz and no /metrics; the private network and the token all', async () => {
    const { env } = await cliEnv({
      HTTP_PORT: '0',
      LOG_LEVEL: 'info',
      TRUST_PROXY: 'true',
      MONITORING_TOKEN: TOKEN,
      // A mailbox (its server never answers): /healthz's detail names it, with its folder and its errors.
      IMAP_HOST: '127.0.0.1',
      IMAP_PORT: '9',
      IMAP_SECURE: 'false',
      IMAP_USER: 'soporte',
      IMAP_PASSWORD: 'x',
    });
    let base: string;
    ({ mesa, base } = await startMesa(env));
    const internet = { 'x-forwarded-for': '203.0.113.9' };

    const outside = await get(base, '/healthz', internet);
    expect(outside.status).toBe(200);
    expect(JSON.parse(outside.body)).toEqual({ status: 'ok' });
    const metrics = await get(base, '/metrics', internet);
    expect(metrics.status).toBe(404);
    expect(metrics.body).not.toContain('mesa_');
    // A wrong token is no token.
    expect((await get(base, '/metrics', { ...internet, authorization: `Bearer ${TOKEN}x` })).status).toBe(404);

    for (const allowed of [
      { 'x-forwarded-for': '10.1.2.3' },
      { 'x-forwarded-for': 'fd00::5' },
      { ...internet, authorization: `Bearer ${TOKEN}` },
    ]) {
      const health = JSON.parse((await get(base, '/healthz', allowed)).body);
      expect(health.mailboxes.map((m: { name: string }) => m.name)).toEqual(['support']);
      const scraped = await get(base, '/metrics', allowed);
      expect(scraped.status).toBe(200);
      expect(scraped.body).toContain('mesa_mails_ingested_total');
    }
  });
});
