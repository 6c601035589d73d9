import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { expectBudgetAsks } from '../../../src/db/repos/outbox-ahead.ts';
import { insertOutbox, letOutboxWait, loopBudgetOf } from '../../../src/db/repos/outbox.ts';
import { onStatements } from '../../../src/db/storage.ts';
import { inUnitOfWork } from '../../../src/db/unit-of-work.ts';
import { testApp } from '../../support/app.ts';
import { imapSource, parsedAhead } from '../../support/ingest-batches.ts';
import { mail, storedMailTo } from '../../support/mail.ts';

/**
 * The loop budget read ahead (src/db/repos/outbox-ahead.ts): in the ingest's batch, the first notice that reads the
 * budget reads it for the senders of every mail parsed ahead too, in one statement; the later notices answer from
 * memory. What it holds must be what a read per notice holds: the same mails one per batch.
 */
const apps: App[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});

const LIMITS = { AUTO_MAIL_LIMIT_WINDOW: '3', AUTO_MAIL_WINDOW_MINUTES: '10', AUTO_MAIL_LIMIT_DAY: '40' };
const FLOOD = 'inundacion@cliente.co';
const STOPPED = 'rebotado@cliente.co';

const newCase = (from: string, i: number) =>
  mail(
    { From: from, To: 'soporte@mesa.test', Subject: `Consulta distinta ${i}`, 'Message-ID': `<b${i}@cliente.co>` },
    `Pregunta número ${i}, sobre otra cosa.`,
  );
/** Before the batch: one case from the flooding sender, already confirmed (a row the read finds in the table). */
const earlier = newCase(FLOOD, 0);
const senders = [FLOOD, 'uno@otra.co', FLOOD, STOPPED, FLOOD, 'dos@otra.co', FLOOD, 'uno@otra.co', FLOOD, FLOOD];
const batch = senders.map((from, i) => newCase(from, i + 1));

async function world(): Promise<App> {
  const app = await testApp(LIMITS);
  apps.push(app);
  await app.ingest.ingestMany([{ raw: earlier, source: imapSource(1) }]);
  await app
    .db('mail_suppressions')
    .insert({ address: STOPPED, reason: '5.1.1 no existe', until: Date.now() + 86_400_000, created_at: Date.now() });
  return app;
}

/** Every outbox row, as what decides the budget sees it. */
const outboxOf = async (app: App) =>
  (await app.db('outbox').select('ticket_id', 'recipient', 'kind', 'state', 'held_reason').orderBy('id')).map(
    (r: Record<string, unknown>) => [Number(r.ticket_id), r.recipient, r.kind, r.state, r.held_reason ?? null],
  );

/** Statements that read the loop budget, from now on. */
function budgetReads(app: App): () => number {
  let n = 0;
  onStatements(app.db, ({ sql }) => {
    if (/sum\(case when "created_at" >= /.test(sql)) n++;
  });
  return () => n;
}

describe('the loop budget read ahead', () => {
  it('holds in one batch, with one budget statement, what a read per notice holds', async () => {
    const one = await world();
    for (const [i, raw] of batch.entries()) await one.ingest.ingestMany([{ raw, source: imapSource(i + 2) }]);

    const many = await world();
    // Every mail parsed before the batch's transaction begins: the read ahead covers all their senders.
    await parsedAhead(many, batch);
    const reads = budgetReads(many);
    const results = await many.ingest.ingestMany(batch.map((raw, i) => ({ raw, source: imapSource(i + 2) })));
    expect(results.map((r) => r.effect)).toEqual(Array(batch.length).fill('new_case'));
    expect(reads()).toBe(1);

    const rows = await outboxOf(many);
    expect(rows).toEqual(await outboxOf(one));
    const confirmations = (to: string) => rows.filter((r) => r[1] === to && r[2] === 'confirmation');
    // The earlier case and two of the batch's within the window of 3; the other four held by it.
    expect(confirmations(FLOOD).map((r) => r[3])).toEqual(['pending', 'pending', 'pending', ...Array(4).fill('held')]);
    expect(confirmations(FLOOD)[3][4]).toBe('limite: 3 en 10 min');
    expect(confirmations(STOPPED).map((r) => [r[3], r[4]])).toEqual([['held', 'rebote: 5.1.1 no existe']]);
    expect(confirmations('uno@otra.co').map((r) => r[3])).toEqual(['pending', 'pending']);
  });

  it('counts across a flush and for mails whose times differ as a read per notice does', async () => {
    const ahead = await scenario(true);
    const alone = await scenario(false);
    // One statement for all the questions: the first read both addresses for every time of the batch.
    expect(ahead.reads).toBe(1);
    expect(alone.reads).toBe(10);
    expect(ahead.answers).toEqual(alone.answers);
    // Not all alike: the times of the batch fall on both sides of rows at the windows' edges.
    expect(new Set(alone.answers.map((a) => JSON.stringify(a))).size).toBeGreaterThan(4);
  });
});

const NOW = Date.UTC(2026, 11, 6, 12);
const W = 10 * 60_000;
const DAY = 86_400_000;
const stored = storedMailTo(FLOOD);

/**
 * Questions to the budget about two addresses at five times a second apart, in one unit that enqueues mail as it
 * goes and whose waiting rows a flush writes halfway, on a table with mail at the edges of the windows of those times:
 * with the read ahead (`readAhead`), or one read per question.
 */
async function scenario(readAhead: boolean): Promise<{ reads: number; answers: unknown[] }> {
  const app = await testApp(LIMITS);
  apps.push(app);
  let key = 0;
  const row = (to: string, at: number, state: 'pending' | 'held' = 'pending') => ({
    idempotencyKey: `k${++key}`,
    kind: 'confirmation',
    recipient: to,
    automatic: true,
    messageId: `m${key}@mesa.test`,
    mail: stored,
    state,
    now: at,
  });
  for (const at of [NOW - W - 3000, NOW - W - 1500, NOW - W, NOW - W + 1500, NOW - W + 3000, NOW - 60_000])
    await insertOutbox(app.db, row(FLOOD, at));
  for (const at of [NOW - DAY - 1500, NOW - DAY + 500, NOW - 5 * W]) await insertOutbox(app.db, row(FLOOD, at));
  await insertOutbox(app.db, row(FLOOD, NOW - 1000, 'held'));
  await insertOutbox(app.db, row(STOPPED, NOW - W + 500));
  // In force until the middle of the batch's times.
  await app.db('mail_suppressions').insert({ address: STOPPED, reason: 'lleno', until: NOW + 500, created_at: NOW });
  const times = [NOW - 2000, NOW - 1000, NOW, NOW + 1000, NOW + 2000];
  const spans = { window: W, day: DAY, never: (a: string) => a === 'soporte@mesa.test' };
  const reads = budgetReads(app);
  const answers = await inUnitOfWork(app.db, async (uow) => {
    uow.gather();
    letOutboxWait(uow);
    // Waiting when the addresses are read.
    await insertOutbox(uow, row(FLOOD, NOW - 500));
    expectBudgetAsks(uow, [
      ...times.map((now) => ({ address: FLOOD, now })),
      { address: 'soporte@mesa.test', now: NOW },
      ...times.map((now) => ({ address: STOPPED, now })),
    ]);
    const out: unknown[] = [];
    for (const [i, now] of times.entries())
      for (const to of [FLOOD, STOPPED]) {
        out.push(await loopBudgetOf(uow, to, now - W, now - DAY, now, readAhead ? spans : undefined));
        if (i === 2 && to === FLOOD) {
          // As a batch goes on: a flush (another table's read wrote the waiting rows), then more mail.
          await uow.flush();
          await insertOutbox(uow, row(FLOOD, now));
          await insertOutbox(uow, row(FLOOD, now, 'held'));
          await insertOutbox(uow, row(STOPPED, now));
        }
      }
    return out;
  });
  return { reads: reads(), answers };
}
