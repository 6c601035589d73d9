import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { lockTicketViewsByThreadIds } from '../../src/db/repos/tickets.ts';
import type { UnitOfWork } from '../../src/db/unit-of-work.ts';
import { silentLogger } from '../../src/logger.ts';
import type { CaseEvent } from '../../src/services/case-events.ts';
import { testEnv } from '../support/app.ts';
import { BUILT_PARSE_WORKER } from '../support/built.ts';
import { at, consultantReply, jobsAt, mail } from '../support/lifecycle.ts';
import { waitFor } from '../support/wait.ts';
import { freshDatabase, lockable, pgReachable, waitsOnALock } from './support/pg.ts';

/**
 * A reply's case is locked by the look-up that finds it by its headers (lockTicketViewsByThreadIds, FOR UPDATE OF
 * the case), not by a second statement: the lock is held until the batch commits, another instance's change of the
 * case waits for it (or it for them), and a look-up that waited for a commit that changed the case says so, since
 * the case's people it read are those from before that commit.
 */
const apps: App[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

async function instances(count: number, env: Record<string, string> = {}, clock?: () => number): Promise<App[]> {
  const url = await freshDatabase('mesa_thread_lock');
  for (let i = 0; i < count; i++) {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-thread-lock-'));
    apps.push(
      await createApp(
        loadConfig(testEnv(dataDir, { DATABASE_URL: url, TRUSTED_AUTHSERV_IDS: 'mx.mesa.test', ...env })),
        silentLogger,
        { parseWorkerUrl: BUILT_PARSE_WORKER, clock },
      ),
    );
  }
  return apps.slice(-count);
}

const opening = mail(
  { From: 'cliente@org.co', To: 'soporte@mesa.test', Subject: 'Falla al imprimir', 'Message-ID': '<t1@org.co>' },
  'No imprime.',
);

describe.runIf(await pgReachable())("a reply's case locked by its thread look-up", () => {
  it('locks the cases found until the transaction ends, and says whether one changed while it waited', async () => {
    const [app] = await instances(1);
    await app.ingest.ingest(opening, { kind: 'stdin' });
    const { id } = await app.db('tickets').first('id');

    const quiet = await app.db.transaction();
    const found = await lockTicketViewsByThreadIds(quiet, ['t1@org.co']);
    expect(found.views.map((v) => v.id)).toEqual([id]);
    expect([...found.locked]).toEqual([[id, false]]);
    expect(await lockable(app.db, id)).toBe(false);
    await quiet.commit();
    expect(await lockable(app.db, id)).toBe(true);

    // Another transaction changes the case and adds a person while the look-up waits for the case.
    const other = await app.db.transaction();
    await other.raw(`update "tickets" set "stage" = 'en_curso', "updated_at" = "updated_at" + 1 where "id" = ?`, [id]);
    await other('participants').insert({ ticket_id: id, address: 'x@otra.co', role: 'cc', added_at: Date.now() });
    const waiting = await app.db.transaction();
    const pending = lockTicketViewsByThreadIds(waiting, ['t1@org.co']);
    await waitFor('the look-up waiting for the case', () => waitsOnALock(app.db), 10_000, 10);
    await other.commit();
    const after = await pending;
    await waiting.commit();
    expect(after.views[0].stage).toBe('en_curso');
    // Its people are as the statement began: the caller is told to read again.
    expect(after.views[0].participants.map((p) => p.address)).not.toContain('x@otra.co');
    expect([...after.locked]).toEqual([[id, true]]);
  });

  it('a reply from someone added to the case while its look-up waited is judged on what was committed', async () => {
    const [a, b] = await instances(2);
    await a.ingest.ingest(opening, { kind: 'stdin' });
    // A proven follow-up of the requester copies x@otra.co (another organization) onto the case; while it is inside
    // its transaction, x@otra.co answers the thread from another instance. Had that instance judged on the people it
    // read before the follow-up committed, x would be a stranger to the case and get a new case of their own.
    const follow = mail(
      {
        From: 'cliente@org.co',
        To: 'soporte@mesa.test',
        Cc: 'x@otra.co',
        Subject: 'RE: Falla al imprimir',
        'Message-ID': '<t2@org.co>',
        'In-Reply-To': '<t1@org.co>',
        'Authentication-Results': 'mx.mesa.test; dmarc=pass header.from=org.co',
      },
      'Les copio a x, que también lo ve.',
    );
    const fromX = mail(
      {
        From: 'x@otra.co',
        To: 'soporte@mesa.test',
        Subject: 'RE: Falla al imprimir',
        'Message-ID': '<t3@otra.co>',
        'In-Reply-To': '<t2@org.co>',
        References: '<t1@org.co> <t2@org.co>',
      },
      'A mí tampoco me imprime.',
    );
    let reply: ReturnType<typeof b.ingest.ingest> | undefined;
    a.cases.addNotifier({
      async onCaseEvent(_uow: UnitOfWork, e: CaseEvent) {
        if (e.type !== 'message_added' || reply) return;
        reply = b.ingest.ingest(fromX, { kind: 'stdin' });
        await Promise.race([waitFor('the reply waiting for the case', () => waitsOnALock(a.db), 10_000, 10), reply]);
      },
    });
    expect(await a.ingest.ingest(follow, { kind: 'stdin' })).toMatchObject({ effect: 'follow_up', ticketNumber: 1 });
    expect(await reply).toMatchObject({ outcome: 'accepted', effect: 'follow_up', ticketNumber: 1 });
    expect(Number((await a.db('tickets').count({ n: '*' }))[0].n)).toBe(1);
  });

  it('a reply by its headers alone that arrives while the jobs are closing its case waits for them, then reopens it', async () => {
    let now = at('2026-11-23T08:00');
    const [app] = await instances(1, { HOLIDAYS_COUNTRY: 'CO' }, () => now);
    await app.ingest.ingest(opening, { kind: 'stdin' });
    now = at('2026-11-23T10:00');
    await app.ingest.ingest(consultantReply('beto@mesa.test', 1, 'k2@mesa.test', 'Pruebe ahora, por favor.'), {
      kind: 'stdin',
    });
    expect((await jobsAt(app, '2026-11-24T10:00')).warned).toEqual([1]);
    now = at('2026-11-25T10:00');
    // No tag: the case is found, and locked, by the look-up of the thread.
    const reply = mail(
      {
        From: 'cliente@org.co',
        To: 'soporte@mesa.test',
        Subject: 'RE: Falla al imprimir',
        'Message-ID': '<t4@org.co>',
        'In-Reply-To': '<t1@org.co>',
        'Authentication-Results': 'mx.mesa.test; dmarc=pass header.from=org.co',
      },
      'Sigue sin imprimir.',
    );
    let replied: ReturnType<typeof app.ingest.ingest> | undefined;
    app.cases.addNotifier({
      async onCaseEvent(_uow: UnitOfWork, e: CaseEvent) {
        if (e.type !== 'stage_changed' || e.to !== 'cerrado' || replied) return;
        replied = app.ingest.ingest(reply, { kind: 'stdin' });
        await waitFor('the reply waiting for the case', () => waitsOnALock(app.db), 10_000, 10);
      },
    });
    expect((await jobsAt(app, '2026-11-25T10:00')).closed).toEqual([1]);
    expect(await replied).toMatchObject({ outcome: 'accepted', effect: 'follow_up', ticketNumber: 1 });
    expect((await app.db('tickets').first()).stage).not.toBe('cerrado');
    const stages = await app.db('events').where({ type: 'stage_changed' }).orderBy('id').select('to_value');
    expect(stages.map((e: { to_value: string }) => e.to_value)).toEqual(['cerrado', 'reabierto']);
  });
});
