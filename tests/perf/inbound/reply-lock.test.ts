import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { onStatements } from '../../../src/db/storage.ts';
import { testApp } from '../../support/app.ts';
import { mail } from '../../support/mail.ts';

/**
 * What locking a reply's case costs (tests/postgres/thread-lock.test.ts has what the lock does): on PostgreSQL the
 * look-up that finds the case by the reply's headers locks it too, with no statement of its own; a reply found by
 * its subject tag alone locks its case with one. SQLite has one writer at a time: nothing is locked.
 */
let app: App;
afterEach(async () => app?.close());

const opening = mail(
  { From: 'cliente@org.co', To: 'soporte@mesa.test', Subject: 'Falla al imprimir', 'Message-ID': '<r1@org.co>' },
  'No imprime.',
);

/** The statements that lock, or look up by thread id, while `raw` is ingested, and its result. */
async function locksOf(raw: Buffer) {
  const seen: string[] = [];
  const stop = onStatements(app.db, (q: { sql: string }) => {
    if (/for update|\) as "x" join "tickets"/i.test(q.sql)) seen.push(q.sql);
  });
  const result = await app.ingest.ingest(raw, { kind: 'stdin' });
  stop();
  return {
    result,
    lookups: seen.filter((s) => s.includes(') as "x" join "tickets"')),
    locks: seen.filter((s) => /for update/.test(s)),
  };
}

describe("a reply's case lock: statements", () => {
  it('locks the case its headers name in the look-up itself, on PostgreSQL only', async () => {
    app = await testApp();
    await app.ingest.ingest(opening, { kind: 'stdin' });
    const reply = mail(
      {
        From: 'cliente@org.co',
        To: 'soporte@mesa.test',
        Subject: 'RE: Falla al imprimir',
        'Message-ID': '<r2@org.co>',
        'In-Reply-To': '<r1@org.co>',
      },
      'Sigue igual.',
    );
    const { result, lookups, locks } = await locksOf(reply);
    expect(result).toMatchObject({ effect: 'follow_up', ticketNumber: 1 });
    expect(lookups).toHaveLength(1);
    if (app.config.database.client === 'pg') {
      expect(locks).toEqual(lookups);
      expect(locks[0]).toMatch(/ for update of "t"$/);
    } else expect(locks).toEqual([]);
  });

  it('locks a case named by the subject tag alone with a statement of its own, on PostgreSQL only', async () => {
    app = await testApp();
    await app.ingest.ingest(opening, { kind: 'stdin' });
    const tagged = mail(
      {
        From: 'cliente@org.co',
        To: 'soporte@mesa.test',
        Subject: 'RE: [Caso #1] Falla al imprimir',
        'Message-ID': '<r3@org.co>',
      },
      'Sigue igual.',
    );
    const { result, lookups, locks } = await locksOf(tagged);
    expect(result).toMatchObject({ effect: 'follow_up', ticketNumber: 1 });
    expect(lookups).toEqual([]);
    if (app.config.database.client === 'pg') {
      expect(locks).toHaveLength(1);
      expect(locks[0]).toMatch(/^select \* from "tickets" where "id" = \$1 for update$/);
    } else expect(locks).toEqual([]);
  });
});
