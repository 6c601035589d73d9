import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { onStatements } from '../../../src/db/storage.ts';
import { onPostgres, testApp } from '../../support/app.ts';
import { imapSource, rowCount, savepointsOf } from '../../support/ingest-batches.ts';
import { mail } from '../../support/mail.ts';
import { tablesInserted } from '../../support/statements.ts';

/** What a clean poller batch costs (tests/integration/inbound/group-commit.test.ts has what it does): no savepoints. */
let app: App;
afterEach(async () => app?.close());

describe('group commit (ingestMany): statements', () => {
  it('runs a batch without a savepoint per mail when no mail fails', async () => {
    app = await testApp();
    const savepoints = savepointsOf(app);
    const mk = (i: number) =>
      mail(
        { From: `p${i}@org${i}.co`, To: 'soporte@mesa.test', Subject: `Caso ${i}`, 'Message-ID': `<s${i}@x>` },
        `texto ${i}`,
      );
    const results = await app.ingest.ingestMany([1, 2, 3].map((i) => ({ raw: mk(i), source: imapSource(i) })));
    expect(results.map((r) => [r.outcome, r.effect, r.ticketNumber])).toEqual([
      ['accepted', 'new_case', 1],
      ['accepted', 'new_case', 2],
      ['accepted', 'new_case', 3],
    ]);
    expect(savepoints()).toBe(0);
    expect(await rowCount(app, 'ingest_ledger')).toBe(3);
  });

  it("writes the batch's messages with one INSERT on PostgreSQL (ids taken ahead in one statement)", async () => {
    app = await testApp();
    const shapes: string[] = [];
    onStatements(app.db, ({ sql }) => {
      if (tablesInserted(sql).includes('messages')) shapes.push('insert');
      else if (/nextval/.test(sql)) shapes.push('ids');
    });
    const mk = (i: number) =>
      mail(
        { From: `p${i}@org${i}.co`, To: 'soporte@mesa.test', Subject: `Caso ${i}`, 'Message-ID': `<m${i}@x>` },
        `texto ${i}`,
      );
    await app.ingest.ingestMany([1, 2, 3].map((i) => ({ raw: mk(i), source: imapSource(i) })));
    // SQLite: one statement per message, in process (lastInsertRowid); gathering them does not pay there.
    expect(shapes).toEqual(onPostgres ? ['ids', 'insert'] : ['insert', 'insert', 'insert']);
    expect(await rowCount(app, 'messages')).toBe(3);
  });

  it("writes the batch's new cases with one INSERT and the counter once on PostgreSQL", async () => {
    app = await testApp();
    const shapes: string[] = [];
    onStatements(app.db, ({ sql }) => {
      const m = /^(update "counters"|with "n")/.exec(sql);
      if (m) shapes.push(m[1]);
      for (const t of tablesInserted(sql)) if (t === 'tickets' || t === 'counters') shapes.push(`insert into "${t}"`);
    });
    const mk = (i: number) =>
      mail(
        { From: `p${i}@org${i}.co`, To: 'soporte@mesa.test', Subject: `Caso ${i}`, 'Message-ID': `<t${i}@x>` },
        `texto ${i}`,
      );
    const results = await app.ingest.ingestMany([1, 2, 3, 4].map((i) => ({ raw: mk(i), source: imapSource(i) })));
    expect(results.map((r) => r.ticketNumber)).toEqual([1, 2, 3, 4]);
    // The first number takes the counter's lock (UPDATE … RETURNING); the last is written with the batch's rows.
    // SQLite: two statements per case, in process.
    expect(shapes).toEqual(
      onPostgres
        ? ['update "counters"', 'insert into "tickets"', 'insert into "counters"']
        : Array(4).fill(['update "counters"', 'insert into "tickets"']).flat(),
    );
  });
});
