import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { lookAheadThreads, threadsFromMemory } from '../../src/db/repos/threads-ahead.ts';
import { inUnitOfWork } from '../../src/db/unit-of-work.ts';
import type { CaseEvent } from '../../src/services/case-events.ts';
import { silentLogger } from '../../src/logger.ts';
import { BlobStore } from '../../src/storage/blobs.ts';
import { wholeBatchParser } from '../support/held-parser.ts';
import { testEnv } from '../support/app.ts';
import { BUILT_PARSE_WORKER } from '../support/built.ts';
import { mail } from '../support/lifecycle.ts';
import { waitFor } from '../support/wait.ts';
import { customerMessagesPerCase, freshDatabase, lockable, pgReachable, waitsOnALock } from './support/pg.ts';

/**
 * The thread look-up read ahead for a batch (src/db/repos/threads-ahead.ts) locks every case it finds, as the
 * look-up of one mail does (tests/postgres/thread-lock.test.ts): until the batch commits. A case another transaction
 * changed while the read waited for its lock is not answered from memory (its people were read before that commit):
 * the mail that names it reads again.
 */
let app: App | undefined;
const others: App[] = [];
afterEach(async () => {
  await app?.close();
  await Promise.all(others.splice(0).map((a) => a.close()));
});

const opening = (id: string, subject: string) =>
  mail({ From: 'cliente@org.co', To: 'soporte@mesa.test', Subject: subject, 'Message-ID': `<${id}>` }, 'No va.');

describe.runIf(await pgReachable())('the thread look-up read ahead: locks', () => {
  it('locks the cases of every mail read ahead, and leaves one changed while it waited to be read again', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-thread-ahead-'));
    const url = await freshDatabase('mesa_thread_ahead');
    app = await createApp(loadConfig(testEnv(dataDir, { DATABASE_URL: url })), silentLogger, {
      parseWorkerUrl: BUILT_PARSE_WORKER,
    });
    const db = app.db;
    await app.ingest.ingest(opening('t1@org.co', 'Falla al imprimir'), { kind: 'stdin' });
    await app.ingest.ingest(opening('u1@org.co', 'Falla al facturar'), { kind: 'stdin' });
    const [first, second] = (await db('tickets').orderBy('number').select('id')).map((r) => Number(r.id));

    // Another transaction changes case #1 and adds a person while the read ahead waits for it.
    const other = await db.transaction();
    await other.raw(`update "tickets" set "stage" = 'en_curso', "updated_at" = "updated_at" + 1 where "id" = ?`, [
      first,
    ]);
    await other('participants').insert({ ticket_id: first, address: 'x@otra.co', role: 'cc', added_at: Date.now() });
    await inUnitOfWork(db, async (uow) => {
      const reading = lookAheadThreads(uow, { ids: ['u1@org.co'] }, [{ ids: ['t1@org.co'] }, { ids: [], number: 2 }]);
      await waitFor('the read ahead waiting for case #1', () => waitsOnALock(db), 10_000, 10);
      await other.commit();
      await reading;
      // Both held until the unit ends.
      expect(await lockable(db, first)).toBe(false);
      expect(await lockable(db, second)).toBe(false);
      const byHeaders = threadsFromMemory(uow, { ids: ['u1@org.co'] });
      expect(byHeaders?.views.map((v) => v.id)).toEqual([second]);
      expect([...byHeaders!.locked]).toEqual([[second, false]]);
      const byNumber = threadsFromMemory(uow, { ids: [], number: 2 });
      expect(byNumber?.tagged?.id).toBe(second);
      expect([...byNumber!.locked]).toEqual([[second, false]]);
      // Changed while the read waited: its mail reads it again.
      expect(threadsFromMemory(uow, { ids: ['t1@org.co'] })).toBeUndefined();
    });
    expect(await lockable(db, first)).toBe(true);
  });

  it('two instances whose batches name the same two cases in opposite order: read ahead, both lock in id order, one waits, nothing runs again', async () => {
    const url = await freshDatabase('mesa_thread_ahead_order');
    // Every mail of a batch handed over once the whole batch is parsed: each batch reads both its cases at its first
    // mail's turn.
    const started = [];
    for (const name of ['a', 'b']) {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `mesa-thread-ahead-${name}-`));
      const held = wholeBatchParser(new BlobStore(path.join(dataDir, 'blobs')));
      const instance = await createApp(loadConfig(testEnv(dataDir, { DATABASE_URL: url })), silentLogger, {
        parseWorkerUrl: BUILT_PARSE_WORKER,
        parser: held.parser,
      });
      others.push(instance);
      started.push({ instance, arm: () => held.arm(2) });
    }
    const [a, b] = started;
    await a.instance.ingest.ingest(opening('o1@org.co', 'Falla 1'), { kind: 'stdin' });
    await a.instance.ingest.ingest(opening('o2@org.co', 'Falla 2'), { kind: 'stdin' });
    // The first batch to record a mail holds there until the other waits for a case's lock.
    let added = 0;
    let first = true;
    for (const { instance } of started)
      instance.cases.addNotifier({
        async onCaseEvent(_uow: unknown, e: CaseEvent) {
          if (e.type !== 'message_added') return;
          added++;
          if (!first) return;
          first = false;
          await waitFor('la otra tanda esperando un caso', () => waitsOnALock(a.instance.db), 10_000, 10);
        },
      });
    const reply = (n: number, k: string) => ({
      raw: mail(
        {
          From: 'cliente@org.co',
          To: 'soporte@mesa.test',
          Subject: `RE: [Caso #${n}] Falla ${n}`,
          'Message-ID': `<r${n}-${k}@org.co>`,
        },
        `Más datos (${k}).`,
      ),
      source: { kind: 'stdin' as const },
    });
    a.arm();
    b.arm();
    const results = await Promise.all([
      a.instance.ingest.ingestMany([reply(1, 'a'), reply(2, 'a')]),
      b.instance.ingest.ingestMany([reply(2, 'b'), reply(1, 'b')]),
    ]);
    // Four mails recorded once each: no batch was refused for a deadlock and run again.
    expect(added).toBe(4);
    expect(results.map((r) => r.map((x) => x.outcome).join(','))).toEqual(['accepted,accepted', 'accepted,accepted']);
    expect(await customerMessagesPerCase(a.instance.db)).toEqual([3, 3]);
  });
});
