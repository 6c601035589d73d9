import { afterEach, expect, it } from 'vitest';
import type { App } from '../../../../src/app.ts';
import { onStatements } from '../../../../src/db/storage.ts';
import { openCustomerCases } from '../../../integration/outbound/fixtures.ts';
import { testApp } from '../../../support/app.ts';

/**
 * How the dispatcher's claim reads the outbox on SQLite (src/db/repos/outbox-claim.ts): pending mail in the order of
 * the (state, next_attempt_at) index, up to the claim's size. Reading every due row and sorting it by id made each
 * claim of a burst of thousands cost as much as the burst (0.48 ms per claim with 6000 due, 0.011 ms in index order;
 * on PostgreSQL, 20 ms when the outbox kept 100,000 sent mails: docs/performance.md, «La salida de correo»).
 */
let app: App;
afterEach(async () => app?.close());

it('claims pending mail in index order, without sorting every due row, and with no bound LIMIT', async () => {
  app = await testApp();
  await openCustomerCases(app, 5);
  const reads: Array<{ sql: string; bindings: readonly unknown[] }> = [];
  const stop = onStatements(app.db, (q) => {
    if (/^select "id" from "outbox"/i.test(q.sql)) reads.push({ sql: q.sql, bindings: [...q.bindings] });
  });
  expect(await app.outbound.dispatcher.drain()).toBe(15);
  stop();
  const pending = reads.filter((r) => /"state" = 'pending'/.test(r.sql) && /order by/i.test(r.sql));
  expect(pending.length).toBeGreaterThan(0);
  for (const r of reads) expect(r.sql).not.toMatch(/\blimit\s+\?/i);
  for (const r of pending) {
    const plan = (await app.db.raw(`explain query plan ${r.sql}`, r.bindings as Array<string | number>)) as Array<{
      detail: string;
    }>;
    const details = plan.map((p) => p.detail).join(' | ');
    expect(details).toMatch(/USING (COVERING )?INDEX outbox_state_next_attempt_at_index/);
    expect(details).not.toMatch(/TEMP B-TREE/);
  }
});
