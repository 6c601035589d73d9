import { afterEach, describe, expect, it } from 'vitest';
import { countHit, purgeEndedWindows } from '../../../src/db/repos/rate-limits.ts';
import { onPostgres, testApp } from '../../support/app.ts';
import { askLostLink, portalHarness, type PortalHarness } from './support.ts';
import type { App } from '../../../src/app.ts';

/** "Perdí mi enlace" (a route limited per client IP), asked through `h`, from 127.0.0.1 or, behind a proxy, for `forwarded`. */
async function askLostLinkAs(h: PortalHarness, n: number, opts: { forwarded?: string } = {}) {
  return (
    await askLostLink(h.server, `persona${n}@cliente.test`, opts.forwarded ? { 'x-forwarded-for': opts.forwarded } : {})
  ).reply;
}

/** The settings of a second instance on the same database (and DATA_DIR) as `app`. */
function sameDatabase(app: App): Record<string, string> {
  return { DATA_DIR: app.config.dataDir, ...(onPostgres ? { DATABASE_URL: app.config.database.url } : {}) };
}

describe('per-IP limits of the status page, counted in the database', () => {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const h of open.splice(0).reverse()) await h.close();
  });

  it('is one limit for every instance on the database, and survives a restart', async () => {
    const a = await portalHarness({ WEB_LINK_REQUESTS_PER_IP: '3' });
    open.push(a);
    const b = await portalHarness({ WEB_LINK_REQUESTS_PER_IP: '3', ...sameDatabase(a.app) });
    open.push(b);
    // The same client (127.0.0.1) through both instances, as a balancer would spread it.
    const codes = [];
    for (const [i, h] of [a, b, a, b].entries()) codes.push((await askLostLinkAs(h, i)).statusCode);
    expect(codes).toEqual([200, 200, 200, 429]);
    const refused = await askLostLinkAs(b, 9);
    expect(refused.statusCode).toBe(429);
    expect(refused.body).toContain('Recibimos demasiadas solicitudes');
    // A new instance (a restart) still sees the count.
    const c = await portalHarness({ WEB_LINK_REQUESTS_PER_IP: '3', ...sameDatabase(a.app) });
    open.push(c);
    expect((await askLostLinkAs(c, 10)).statusCode).toBe(429);
    // Nothing was sent for the refused requests: the handler never ran.
    expect(Number((await a.app.db('outbox').count({ n: '*' }))[0].n)).toBe(0);
  });

  it('counts each client behind a trusted proxy, and ignores X-Forwarded-For from anyone else', async () => {
    const behind = await portalHarness({ WEB_LINK_REQUESTS_PER_IP: '2', TRUST_PROXY: '127.0.0.1' });
    open.push(behind);
    const one = [];
    for (let i = 0; i < 3; i++) one.push((await askLostLinkAs(behind, i, { forwarded: '203.0.113.5' })).statusCode);
    expect(one).toEqual([200, 200, 429]);
    expect((await askLostLinkAs(behind, 3, { forwarded: '203.0.113.6' })).statusCode).toBe(200);

    // Not trusted (the default): a client cannot get more requests by making up X-Forwarded-For.
    const direct = await portalHarness({ WEB_LINK_REQUESTS_PER_IP: '2' });
    open.push(direct);
    const forged = [];
    for (let i = 0; i < 3; i++)
      forged.push((await askLostLinkAs(direct, i, { forwarded: `198.51.100.${i}` })).statusCode);
    expect(forged).toEqual([200, 200, 429]);
  });

  it('starts a new window once the last one ended, and purges ended windows', async () => {
    const app = await testApp();
    open.push(app);
    const t0 = Date.UTC(2026, 10, 23, 10);
    expect(await countHit(app.db, 'k', t0, 60_000)).toEqual({ hits: 1, expiresAt: t0 + 60_000 });
    expect(await countHit(app.db, 'k', t0 + 59_999, 60_000)).toEqual({ hits: 2, expiresAt: t0 + 60_000 });
    expect(await countHit(app.db, 'otra', t0 + 1000, 60_000)).toEqual({ hits: 1, expiresAt: t0 + 61_000 });
    expect(await countHit(app.db, 'k', t0 + 60_000, 60_000)).toEqual({ hits: 1, expiresAt: t0 + 120_000 });
    // At t0 + 61 s only "otra" has ended.
    expect(await purgeEndedWindows(app.db, t0 + 61_000)).toBe(1);
    expect((await app.db('rate_limits').select('key')).map((r: any) => r.key)).toEqual(['k']);
  });

  it('counts every request when instances count the same key at once', async () => {
    const app = await testApp();
    open.push(app);
    const other = await testApp(sameDatabase(app));
    open.push(other);
    const now = Date.now();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => countHit(i % 2 ? other.db : app.db, 'a la vez', now, 3_600_000)),
    );
    expect(results.map((r) => r.hits).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });
});
