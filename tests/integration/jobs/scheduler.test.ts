import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { Scheduler } from '../../../src/jobs/scheduler.ts';
import { testApp } from '../../support/app.ts';
import { at, mail } from '../../support/lifecycle.ts';
import { waitFor } from '../../support/wait.ts';

let app: App;
let scheduler: Scheduler | undefined;
afterEach(async () => {
  await scheduler?.stop();
  await app?.close();
});

describe('Scheduler (mesa start)', () => {
  it('runs the jobs on start and on every tick, and stop() waits for the run in progress', async () => {
    let now = at('2026-11-23T08:00');
    app = await testApp({}, { clock: () => now });
    await app.ingest.ingest(
      mail({ From: 'a@uno.co', To: 'soporte@mesa.test', Subject: 'BANCOS, uno', 'Message-ID': '<k1@uno.co>' }, 'uno'),
      { kind: 'stdin' },
    );
    scheduler = new Scheduler(
      { db: app.db, config: app.config, cases: app.cases, policy: app.policy, logger: app.logger },
      { intervalMs: 50, clock: () => now },
    );
    scheduler.start();
    await waitFor('first run: green', async () => (await app.db('tickets').first()).sla_light === 'green');
    now = at('2026-11-23T16:00');
    await waitFor('a later tick: red', async () => (await app.db('tickets').first()).sla_light === 'red');
    await scheduler.stop();
    const events = await app.db('events').where({ type: 'sla_changed' }).count({ n: '*' }).first();
    now = at('2026-11-24T16:00');
    // Absence cannot be awaited: give a stopped scheduler four of its intervals to (wrongly) run again.
    await new Promise((r) => setTimeout(r, 200));
    expect(await app.db('events').where({ type: 'sla_changed' }).count({ n: '*' }).first()).toEqual(events);
  });
});
