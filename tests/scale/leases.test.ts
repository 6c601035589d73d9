import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.ts';
import { MailboxLease, withMailboxLease } from '../../src/db/leases.ts';
import { findLease, listLeases, tryAcquireLease } from '../../src/db/repos/leases.ts';
import { testApp } from '../support/app.ts';
import { until } from './support/pg.ts';

// Runs on SQLite and, with MESA_TEST_DATABASE=postgres, on PostgreSQL: the table and its SQL work on both.
let app: App;
afterEach(async () => app?.close());

describe('mailbox leases', () => {
  it('lets one holder at a time acquire, renew and release a lease', async () => {
    app = await testApp();
    const a = new MailboxLease(app.db, 'support', { holder: 'a', shared: true });
    const b = new MailboxLease(app.db, 'support', { holder: 'b', shared: true });
    expect(await a.acquire()).toBe(true);
    expect(await b.acquire()).toBe(false);
    expect(await a.acquire()).toBe(true); // re-acquiring our own lease extends it
    expect(await a.renew()).toBe(true);
    expect(await b.renew()).toBe(false);
    expect((await findLease(app.db, 'mailbox:support'))?.holder).toBe('a');
    await a.release();
    expect(await b.acquire()).toBe(true);
    expect((await listLeases(app.db)).map((l) => [l.name, l.holder])).toEqual([['mailbox:support', 'b']]);
  });

  it('hands an expired lease to another holder, and the old holder learns it lost it on renew', async () => {
    app = await testApp();
    const a = new MailboxLease(app.db, 'support', { holder: 'a', shared: true, ttlMs: 150 });
    const b = new MailboxLease(app.db, 'support', { holder: 'b', shared: true, ttlMs: 150 });
    expect(await a.acquire()).toBe(true);
    expect(await b.acquire()).toBe(false);
    await until(() => b.acquire(), 'b takes over after expiry', 5000, 25);
    expect(await a.renew()).toBe(false);
    expect((await findLease(app.db, 'mailbox:support'))?.holder).toBe('b');
  });

  it('gives exactly one winner when many holders race for a free lease', async () => {
    app = await testApp();
    const wins = await Promise.all(Array.from({ length: 12 }, (_, i) => tryAcquireLease(app.db, 'mailbox:race', `h${i}`, 10_000)));
    expect(wins.filter(Boolean)).toHaveLength(1);
  });

  it('runs fn under the lease for one contender at a time and hands over when the first finishes', async () => {
    app = await testApp();
    let inside = 0;
    let maxInside = 0;
    const order: string[] = [];
    const work = (who: string) => withMailboxLease(app.db, 'support', async () => {
      inside++;
      maxInside = Math.max(maxInside, inside);
      order.push(who);
      await new Promise((r) => setTimeout(r, 120));
      inside--;
      return who;
    }, { holder: who, shared: true, ttlMs: 1000, retryEveryMs: 20 });
    const results = await Promise.all([work('x'), work('y'), work('z')]);
    expect(results).toEqual(['x', 'y', 'z']);
    expect(maxInside).toBe(1);
    expect(order).toHaveLength(3);
    expect(await listLeases(app.db)).toEqual([]); // released on the way out
  });

  it('aborts the holder\'s signal when another instance has taken the lease over', async () => {
    app = await testApp();
    let aborted = false;
    const holding = withMailboxLease(app.db, 'support', (signal) => new Promise<string>((resolve) => {
      signal.addEventListener('abort', () => { aborted = true; resolve('stopped'); }, { once: true });
    }), { holder: 'a', shared: true, ttlMs: 600, renewEveryMs: 50 });
    await until(() => findLease(app.db, 'mailbox:support'), 'a holds the lease', 5000, 20);
    // Simulate a process paused past its TTL whose lease someone else took.
    await app.db('leases').where({ name: 'mailbox:support' }).update({ holder: 'b' });
    expect(await holding).toBe('stopped');
    expect(aborted).toBe(true);
    expect((await findLease(app.db, 'mailbox:support'))?.holder).toBe('b'); // a's release does not drop b's lease
  });

  it('waits without calling fn when stopped before it gets the lease', async () => {
    app = await testApp();
    const other = new MailboxLease(app.db, 'support', { holder: 'other', shared: true, ttlMs: 60_000 });
    expect(await other.acquire()).toBe(true);
    const stop = new AbortController();
    let called = false;
    const waiting = withMailboxLease(app.db, 'support', async () => { called = true; }, { holder: 'me', shared: true, retryEveryMs: 20, signal: stop.signal });
    stop.abort();
    expect(await waiting).toBeUndefined();
    expect(called).toBe(false);
  });

  it('is a no-op on SQLite by default (one instance assumed), shared on PostgreSQL', async () => {
    app = await testApp();
    const lease = new MailboxLease(app.db, 'support');
    expect(lease.shared).toBe(app.config.database.client === 'pg');
    expect(await lease.acquire()).toBe(true);
    expect((await listLeases(app.db)).length).toBe(lease.shared ? 1 : 0);
    await lease.release();
  });
});
