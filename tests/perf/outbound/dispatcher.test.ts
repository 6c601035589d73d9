import { afterEach, expect, it } from 'vitest';
import { onStatements } from '../../../src/db/storage.ts';
import { Dispatcher } from '../../../src/outbound/dispatcher.ts';
import { silentLogger } from '../../../src/logger.ts';
import { rawMail } from '../../integration/outbound/fixtures.ts';
import { type MailWorld, mailWorld } from '../../support/worlds.ts';

/**
 * How many statements recording sent mail costs (tests/integration/outbound/dispatcher.test.ts has what is
 * recorded): the mails sent from one claim are recorded together, by one statement, not one per mail.
 */
let w: MailWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

it('records a burst of 30 mails as sent with a statement per claim, not per mail', async () => {
  w = await mailWorld({}, { start: false });
  for (let i = 1; i <= 10; i++)
    await w.ingest(rawMail({ from: `cliente${i}@empresa${i}.com`, subject: `Problema ${i}`, body: `Detalle ${i}` }));
  const recorded: string[] = [];
  const stopListening = onStatements(w.app.db, (q) => {
    const sets = /^update ["`]outbox["`] set ["`]state["`] = ('sent'|\?)/i.exec(q.sql);
    if (sets && (sets[1] === "'sent'" || q.bindings[0] === 'sent')) recorded.push(q.sql);
  });
  const dispatcher = new Dispatcher({
    db: w.app.db,
    config: w.app.config,
    blobs: w.app.blobs,
    renderer: w.app.outbound.renderer,
    logger: silentLogger,
    concurrency: 3,
    // Only the claims and the last mail in hand record: how many statements does not depend on the machine's speed.
    settleMs: 60_000,
  });
  await dispatcher.drain();
  await dispatcher.stop();
  stopListening();
  expect(dispatcher.delivered).toBe(30);
  expect(w.sink.messages.length).toBe(30);
  expect(recorded.length).toBeGreaterThan(0);
  expect(recorded.length).toBeLessThanOrEqual(30 / 4);
});
