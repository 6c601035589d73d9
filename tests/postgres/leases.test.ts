import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { MailboxLease, withMailboxLease } from '../../src/db/leases.ts';
import { findLease, listLeases } from '../../src/db/repos/leases.ts';
import { silentLogger } from '../../src/logger.ts';
import { testEnv } from '../support/app.ts';
import { waitFor } from '../support/wait.ts';
import { freshDatabase, pgReachable } from './support/pg.ts';
import { BUILT_PARSE_WORKER } from '../support/built.ts';

let apps: App[] = [];
afterEach(async () => {
  await Promise.all(apps.map((a) => a.close()));
  apps = [];
});

async function instance(databaseUrl?: string): Promise<App> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-lease-'));
  const app = await createApp(
    loadConfig(testEnv(dataDir, databaseUrl ? { DATABASE_URL: databaseUrl } : {})),
    silentLogger,
    {
      parseWorkerUrl: BUILT_PARSE_WORKER,
    },
  );
  apps.push(app);
  return app;
}

describe.runIf(await pgReachable())('mailbox lease on PostgreSQL (advisory lock)', () => {
  it('lets one instance hold a mailbox, records it, and hands it over on release', async () => {
    const url = await freshDatabase('mesa_lease');
    const [a, b] = [await instance(url), await instance(url)];
    const la = new MailboxLease(a.db, 'support:INBOX', { holder: 'a' });
    const lb = new MailboxLease(b.db, 'support:INBOX', { holder: 'b' });
    expect(await la.acquire()).toBe(true);
    expect(await lb.acquire()).toBe(false);
    expect(await new MailboxLease(b.db, 'fallback:INBOX', { holder: 'b' }).acquire()).toBe(true); // other mailbox: free
    expect(await la.check()).toBe(true);
    expect((await findLease(a.db, 'mailbox:support:INBOX'))?.holder).toBe('a');
    await la.release();
    expect(await lb.acquire()).toBe(true);
    expect((await findLease(a.db, 'mailbox:support:INBOX'))?.holder).toBe('b');
    await lb.release();
  });

  it('gives exactly one winner when several instances race for a free mailbox', async () => {
    const url = await freshDatabase('mesa_lease');
    const insts = [await instance(url), await instance(url), await instance(url)];
    const leases = Array.from(
      { length: 9 },
      (_, i) => new MailboxLease(insts[i % 3].db, 'support:INBOX', { holder: `h${i}` }),
    );
    const wins = await Promise.all(leases.map((l) => l.acquire()));
    expect(wins.filter(Boolean)).toHaveLength(1);
    await Promise.all(leases.map((l) => l.release()));
  });

  it('runs the work of one instance at a time and hands over when it finishes', async () => {
    const url = await freshDatabase('mesa_lease');
    const insts = [await instance(url), await instance(url), await instance(url)];
    let inside = 0;
    let maxInside = 0;
    const work = (i: number) =>
      withMailboxLease(
        insts[i].db,
        'support:INBOX',
        async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          await new Promise((r) => setTimeout(r, 150));
          inside--;
          return i;
        },
        { retryEveryMs: 25 },
      );
    expect(await Promise.all([work(0), work(1), work(2)])).toEqual([0, 1, 2]);
    expect(maxInside).toBe(1);
    expect(await listLeases(insts[0].db)).toEqual([]);
  });

  it("frees the mailbox at once when the holder's session dies, and tells the holder it lost it", async () => {
    const url = await freshDatabase('mesa_lease');
    const [a, b] = [await instance(url), await instance(url)];
    let lostAt = 0;
    const holding = withMailboxLease(
      a.db,
      'support:INBOX',
      (signal) =>
        new Promise<string>((resolve) => {
          signal.addEventListener(
            'abort',
            () => {
              lostAt = Date.now();
              resolve('stopped');
            },
            { once: true },
          );
        }),
      { holder: 'a', checkEveryMs: 100 },
    );
    await waitFor('a holds the mailbox', () => findLease(b.db, 'mailbox:support:INBOX'), 10_000, 20);
    let bGotIt = 0;
    const waiting = withMailboxLease(
      b.db,
      'support:INBOX',
      async () => {
        bGotIt = Date.now();
        return 'b';
      },
      { holder: 'b', retryEveryMs: 50 },
    );
    // The holder's machine disappears: its lock session ends as a crash would end it.
    const killedAt = Date.now();
    const killed = await b.db.raw(
      `SELECT pg_terminate_backend(pid) AS ok FROM pg_locks WHERE locktype = 'advisory' AND classid = ${0x4d657361} AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    expect(killed.rows).toHaveLength(1);
    expect(await waiting).toBe('b');
    expect(bGotIt - killedAt).toBeLessThan(2000);
    expect(await holding).toBe('stopped');
    expect(lostAt).toBeGreaterThan(0);
  });

  it('returns without running the work when stopped while waiting for the mailbox', async () => {
    const url = await freshDatabase('mesa_lease');
    const [a, b] = [await instance(url), await instance(url)];
    const holder = new MailboxLease(a.db, 'support:INBOX', { holder: 'a' });
    expect(await holder.acquire()).toBe(true);
    const stop = new AbortController();
    let called = false;
    const waiting = withMailboxLease(
      b.db,
      'support:INBOX',
      async () => {
        called = true;
      },
      { retryEveryMs: 20, signal: stop.signal },
    );
    stop.abort();
    expect(await waiting).toBeUndefined();
    expect(called).toBe(false);
    await holder.release();
  });
});
