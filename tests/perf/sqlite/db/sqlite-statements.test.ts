import { afterEach, expect, it } from 'vitest';
import type { App } from '../../../../src/app.ts';
import { WAL_AUTOCHECKPOINT_PAGES } from '../../../../src/db/knex.ts';
import { testApp } from '../../../support/app.ts';
import { consultantReply, mail } from '../../../support/lifecycle.ts';
import { onStatements } from '../../../../src/db/storage.ts';

/**
 * How Mesa talks to SQLite on the ingest path (src/db/knex.ts, src/db/sql.ts). SQLite only by nature (listed in
 * tests/vitest.config.ts): these are SQLite's own costs, measured with perf in `npm run bench` (tests/bench/README.md,
 * fifteenth delivery).
 */
let app: App;
afterEach(async () => app?.close());

it('keeps savepoint sub-journals and temporary tables in memory (temp_store = MEMORY on every connection)', async () => {
  app = await testApp();
  // 2 = MEMORY. With the default (a file), every page a mail's savepoint changes past 64 KB was a pwrite() to a
  // temporary file: about a third of SQLite's time in the ingest.
  await app.db.transaction(async (trx) => {
    expect(await trx.raw('PRAGMA temp_store')).toEqual([{ temp_store: 2 }]);
  });
  expect(await app.db.raw('PRAGMA temp_store')).toEqual([{ temp_store: 2 }]);
});

it('checkpoints the WAL every 10,000 pages, not every 1,000', async () => {
  app = await testApp();
  expect(await app.db.raw('PRAGMA wal_autocheckpoint')).toEqual([{ wal_autocheckpoint: WAL_AUTOCHECKPOINT_PAGES }]);
  expect(WAL_AUTOCHECKPOINT_PAGES).toBe(10_000);
});

it('binds no LIMIT in what an ingest runs: SQLite 3.53 prepares such a statement again at every run', async () => {
  app = await testApp({ TRUSTED_AUTHSERV_IDS: 'mx.mesa.test' });
  const bound: string[] = [];
  let seen = 0;
  onStatements(app.db, (q: { sql: string }) => {
    seen++;
    if (/\b(limit|offset)\s+\?/i.test(q.sql)) bound.push(q.sql);
  });
  const ingest = (raw: Buffer) => app.ingest.ingest(raw, { kind: 'stdin' });
  // A new case, the customer's follow-up, a consultant's answer (threaded to the customer), the customer again.
  expect(
    await ingest(
      mail(
        {
          From: 'Juan <juan@cliente.co>',
          To: 'soporte@mesa.test',
          Subject: 'Factura mal cargada',
          'Message-ID': '<l1@cliente.co>',
        },
        'No carga la factura 123.',
      ),
    ),
  ).toMatchObject({ effect: 'new_case', ticketNumber: 1 });
  expect(
    await ingest(
      mail(
        {
          From: 'juan@cliente.co',
          To: 'soporte@mesa.test',
          Subject: 'RE: [Caso #1] Factura mal cargada',
          'Message-ID': '<l2@cliente.co>',
          'In-Reply-To': '<l1@cliente.co>',
        },
        'Sigue igual.',
      ),
    ),
  ).toMatchObject({ effect: 'follow_up', ticketNumber: 1 });
  expect(
    await ingest(consultantReply('ana@mesa.test', 1, 'l3@mesa.test', 'Ya quedó corregida, por favor verifique.')),
  ).toMatchObject({ effect: 'follow_up' });
  expect(
    await ingest(
      mail(
        {
          From: 'juan@cliente.co',
          To: 'soporte@mesa.test',
          Subject: 'RE: [Caso #1] Factura mal cargada',
          'Message-ID': '<l4@cliente.co>',
        },
        'Ahora sí, gracias.',
      ),
    ),
  ).toMatchObject({ effect: 'follow_up' });
  // The answer went to the customer threaded on the case (threadOf read it), so the path above was all run.
  expect(await app.db('outbox').where({ kind: 'answer' }).count({ n: '*' })).toEqual([{ n: 1 }]);
  expect(seen).toBeGreaterThan(40);
  expect(bound).toEqual([]);
});
