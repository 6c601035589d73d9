import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import Database from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { SQLITE_BEGIN } from '../../../src/db/knex.ts';
import { claimDue } from '../../../src/db/repos/outbox.ts';
import { testApp } from '../../support/app.ts';
import { mail } from '../../support/lifecycle.ts';

/**
 * Several processes write one SQLite file (src/db/knex.ts, SQLITE_BEGIN): a transaction takes the write lock at its
 * BEGIN, where SQLite waits for it, instead of at its first write after reading, where SQLite cannot wait. SQLite only
 * by nature (listed in tests/vitest.config.ts).
 */
let app: App | undefined;
let holder: ChildProcess | undefined;
afterEach(async () => {
  holder?.kill();
  holder = undefined;
  await app?.close();
  app = undefined;
});

/**
 * Another process that takes the file's write lock (writing a row, uncommitted) and prints "held"; it commits after
 * `holdMs`, or when its standard input closes. A process of its own: better-sqlite3 waits for a lock synchronously,
 * event loop and all, so a connection of this process holding it could never commit while another one waits; for the
 * same reason the release while this process waits is timed by the other process.
 */
async function holdWriteLock(
  filename: string,
  holdMs?: number,
): Promise<{ release(): Promise<void>; done: Promise<unknown> }> {
  const code = `const db = new (require('better-sqlite3'))(process.argv[1]);
    db.exec("BEGIN IMMEDIATE; insert into counters (name, value) values ('holder', 1)");
    process.stdout.write('held\\n');
    const commit = () => { db.exec('COMMIT'); db.close(); process.exit(0); };
    if (process.argv[2]) setTimeout(commit, Number(process.argv[2])); else process.stdin.resume().on('end', commit);`;
  const child = spawn(process.execPath, ['-e', code, filename, holdMs ? String(holdMs) : ''], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  holder = child;
  const done = once(child, 'exit');
  await once(child.stdout!, 'data');
  return {
    done,
    async release() {
      child.stdin!.end();
      await done;
    },
  };
}

const newCase = (n: number) =>
  mail(
    {
      From: `cliente${n}@empresa.co`,
      To: 'soporte@mesa.test',
      Subject: `Falla ${n}`,
      'Message-ID': `<lock${n}@empresa.co>`,
    },
    `No funciona (${n}).`,
  );

it('a transaction holds the write lock from its BEGIN: another writer finds the lock taken before any statement of it ran', async () => {
  app = await testApp();
  expect(SQLITE_BEGIN).toBe('BEGIN IMMEDIATE');
  const other = new Database(app.config.database.filename!, { timeout: 0 });
  try {
    await app.db.transaction(async () => {
      // With knex's own DEFERRED BEGIN the lock would still be free here.
      expect(() => other.exec('BEGIN IMMEDIATE')).toThrow(/database is locked/);
    });
    other.exec('BEGIN IMMEDIATE; ROLLBACK');
  } finally {
    other.close();
  }
});

it("a mail whose transaction reads, then writes, waits for another process's write lock and is stored (it was SQLITE_BUSY at once)", async () => {
  app = await testApp();
  // Everything the ingest loads on its first mail, loaded: the next one reaches its transaction within milliseconds.
  expect(await app.ingest.ingest(newCase(0), { kind: 'stdin' })).toMatchObject({ outcome: 'accepted' });
  const lock = await holdWriteLock(app.config.database.filename!, 700);
  const started = Date.now();
  expect(await app.ingest.ingest(newCase(1), { kind: 'stdin' })).toMatchObject({
    outcome: 'accepted',
    effect: 'new_case',
    ticketNumber: 2,
  });
  // It waited for the other process's commit (whose row is there), rather than finding the lock free.
  expect(Date.now() - started).toBeGreaterThan(300);
  await lock.done;
  expect(await app.db('counters').where({ name: 'holder' }).first()).toMatchObject({ value: 1 });
});

it('a lock held past SQLITE_LOCK_WAIT_SECONDS defers the mail with DB_BUSY, nothing recorded; once free it is stored', async () => {
  app = await testApp({ SQLITE_LOCK_WAIT_SECONDS: '1' });
  expect(app.config.database).toMatchObject({ client: 'better-sqlite3', lockWaitMs: 1000 });
  expect(await app.db.raw('PRAGMA busy_timeout')).toEqual([{ timeout: 1000 }]);
  const lock = await holdWriteLock(app.config.database.filename!);
  const started = Date.now();
  const deferred = await app.ingest.ingest(newCase(2), { kind: 'stdin' });
  expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  expect(deferred).toMatchObject({ outcome: 'tempfail', reason: 'DB_BUSY' });
  expect(deferred.detail).toMatch(/SQLITE_LOCK_WAIT_SECONDS/);
  await lock.release();
  expect(await app.db('ingest_ledger').count({ n: '*' })).toEqual([{ n: 0 }]);
  expect(await app.ingest.ingest(newCase(2), { kind: 'stdin' })).toMatchObject({
    outcome: 'accepted',
    effect: 'new_case',
  });
});

it('an outbox poll with nothing due (`mesa start`, every OUTBOX_POLL_MS) neither waits for nor takes the write lock', async () => {
  app = await testApp({ SQLITE_LOCK_WAIT_SECONDS: '1' });
  const lock = await holdWriteLock(app.config.database.filename!);
  const started = Date.now();
  expect(await claimDue(app.db, { now: Date.now(), limit: 10, owner: 'prueba', leaseMs: 60_000 })).toEqual({
    settled: 0,
    due: [],
    held: [],
  });
  expect(Date.now() - started).toBeLessThan(500);
  await lock.release();
});
