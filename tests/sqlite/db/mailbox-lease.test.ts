import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../../src/app.ts';
import { loadConfig } from '../../../src/config.ts';
import { defaultHolder, holderIsGone } from '../../../src/db/holders.ts';
import { MailboxLease, withMailboxLease } from '../../../src/db/leases.ts';
import { findLease, listLeases } from '../../../src/db/repos/leases.ts';
import { silentLogger } from '../../../src/logger.ts';
import { testEnv } from '../../support/app.ts';
import { BUILT_PARSE_WORKER } from '../../support/built.ts';

/**
 * The mailbox lease on SQLite: two Mesa processes on one database file (two apps here, each with its own connection,
 * as two `mesa start` have) read a mailbox one at a time. The row in `leases` is the lock. SQLite only by nature
 * (PostgreSQL's advisory lock is tests/postgres/leases.test.ts).
 */
let apps: App[] = [];
afterEach(async () => {
  await Promise.all(apps.map((a) => a.close()));
  apps = [];
});

async function twoInstances(): Promise<[App, App]> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-lease-'));
  const open = async () => {
    const app = await createApp(loadConfig(testEnv(dataDir)), silentLogger, { parseWorkerUrl: BUILT_PARSE_WORKER });
    apps.push(app);
    return app;
  };
  const a = await open();
  return [a, await open()];
}

/** A pid that belonged to a process of this machine that has ended. */
async function endedPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

describe('mailbox lease on SQLite (the leases row)', () => {
  it('lets one instance hold a mailbox, records it, and hands it over on release', async () => {
    const [a, b] = await twoInstances();
    const la = new MailboxLease(a.db, 'support:INBOX', { holder: 'a' });
    const lb = new MailboxLease(b.db, 'support:INBOX', { holder: 'b' });
    expect(await la.acquire()).toBe(true);
    expect(await lb.acquire()).toBe(false);
    expect(await new MailboxLease(b.db, 'fallback:INBOX', { holder: 'b' }).acquire()).toBe(true); // other mailbox
    expect(await la.check()).toBe(true);
    expect((await findLease(b.db, 'mailbox:support:INBOX'))?.holder).toBe('a');
    await la.release();
    expect(await lb.acquire()).toBe(true);
    expect((await findLease(a.db, 'mailbox:support:INBOX'))?.holder).toBe('b');
    await lb.release();
    expect((await listLeases(a.db)).map((l) => l.name)).toEqual(['mailbox:fallback:INBOX']);
  });

  it('gives exactly one winner when several race for a free mailbox', async () => {
    const [a, b] = await twoInstances();
    const leases = Array.from({ length: 8 }, (_, i) => new MailboxLease([a, b][i % 2].db, 'support:INBOX'));
    const wins = await Promise.all(leases.map((l) => l.acquire()));
    expect(wins.filter(Boolean)).toHaveLength(1);
  });

  it('is taken over once its holder stops renewing it, and the old holder learns it lost it', async () => {
    const [a, b] = await twoInstances();
    const la = new MailboxLease(a.db, 'support:INBOX', { holder: 'otra-maquina:1:a', checkEveryMs: 100 });
    const lb = new MailboxLease(b.db, 'support:INBOX', { holder: 'b', checkEveryMs: 100 });
    expect(await la.acquire()).toBe(true);
    expect(await lb.acquire()).toBe(false); // alive: renewed within three checks
    const expiresAt = (await findLease(b.db, 'mailbox:support:INBOX'))!.expiresAt;
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 20));
    expect(await lb.acquire()).toBe(true);
    expect(await la.check()).toBe(false);
    expect(la.held).toBe(false);
    expect((await findLease(a.db, 'mailbox:support:INBOX'))?.holder).toBe('b');
  });

  it('is taken at once from a holder whose process on this machine has ended', async () => {
    const [a, b] = await twoInstances();
    // A holder as an ended process of this machine and PID namespace wrote it (defaultHolder, another pid).
    const [, , tag] = defaultHolder().split(':');
    const ended = await endedPid();
    const dead = `${os.hostname()}:${ended}:${tag}`;
    expect(holderIsGone(dead)).toBe(true);
    expect(holderIsGone(`${os.hostname()}:${process.pid}:${tag}`)).toBe(false); // this very process
    expect(holderIsGone(`otra-maquina:${ended}:${tag}`)).toBe(false); // another machine: left to expire
    // Another container with the same hostname (Docker's host network) sees other pids: left to expire.
    expect(holderIsGone(`${os.hostname()}:${ended}:1234.${tag.split('.')[1]}`)).toBe(false);
    expect(holderIsGone(`${os.hostname()}:${ended}:abc123`)).toBe(false); // no namespace written
    // A SIGKILLed `mesa start` left its row behind, still far from expiring.
    const gone = new MailboxLease(a.db, 'support:INBOX', { holder: dead, checkEveryMs: 60_000 });
    expect(await gone.acquire()).toBe(true);
    const started = Date.now();
    const ran = await withMailboxLease(b.db, 'support:INBOX', async () => 'b', { holder: 'b', retryEveryMs: 20 });
    expect(ran).toBe('b');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('runs the work of one instance at a time and hands over when it finishes', async () => {
    const [a, b] = await twoInstances();
    let inside = 0;
    let maxInside = 0;
    const work = (app: App, i: number) =>
      withMailboxLease(
        app.db,
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
    expect(await Promise.all([work(a, 0), work(b, 1), work(a, 2)])).toEqual([0, 1, 2]);
    expect(maxInside).toBe(1);
    expect(await listLeases(a.db)).toEqual([]);
  });
});
