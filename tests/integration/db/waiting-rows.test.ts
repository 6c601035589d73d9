import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { insertLater, insertSql, rows } from '../../../src/db/sql.ts';
import { inUnitOfWork } from '../../../src/db/unit-of-work.ts';
import { onStatements } from '../../../src/db/storage.ts';
import { onPostgres, testApp } from '../../support/app.ts';
import { bareCase } from '../../support/bare-case.ts';

/**
 * Rows a unit of work gathers (insertLater) and the statements that run while they wait: a statement that names
 * their table has them written first, unless its caller said which of them matter (src/db/unit-of-work.ts); on
 * PostgreSQL the unit's statements run prepared under a name.
 */
let app: App;
afterEach(async () => app?.close());

const EVENT_COLUMNS = ['ticket_id', 'type', 'actor', 'data_json', 'created_at'];

describe('rows that wait for the end of a unit of work', () => {
  it('a plain read of their table sees them: they are written just before it, with no call from the reader', async () => {
    app = await testApp();
    const ticketId = await bareCase(app);
    const order: string[] = [];
    const stop = onStatements(app.db, (s) => {
      if (/"events"/.test(s.sql)) order.push(s.sql.startsWith('insert') ? 'insert' : 'select');
    });
    const seen = await inUnitOfWork(app.db, async (uow) => {
      uow.gather();
      await insertLater(uow, 'events', EVENT_COLUMNS, [
        [ticketId, 'uno', 'ana@mesa.test', null, 10],
        [ticketId, 'dos', 'ana@mesa.test', null, 11],
      ]);
      expect(uow.laterRows('events')).toHaveLength(2);
      const found = await rows(uow, 'select "type" from "events" where "ticket_id" = ? order by "id"', [ticketId]);
      expect(uow.laterRows('events')).toHaveLength(0);
      return found.map((r) => r.type);
    });
    stop();
    expect(seen).toEqual(['uno', 'dos']);
    // One multi-row INSERT, before the read.
    expect(order).toEqual(['insert', 'select']);
  });

  it('a read that says which waiting rows matter to it leaves the others waiting, and writes them when one matters', async () => {
    app = await testApp();
    const mine = await bareCase(app);
    const other = await bareCase(app, 2, 'beto@empresa.com');
    const read = (uow: Parameters<Parameters<typeof inUnitOfWork>[1]>[0], ticketId: number) =>
      rows(uow, 'select "type" from "events" where "ticket_id" = ?', [ticketId], {
        events: (v) => v('ticket_id') === ticketId,
      });
    await inUnitOfWork(app.db, async (uow) => {
      uow.gather();
      await insertLater(uow, 'events', EVENT_COLUMNS, [[other, 'ajeno', 'ana@mesa.test', null, 10]]);
      // None of the waiting rows is this case's: they keep waiting, and the read is right without them.
      expect(await read(uow, mine)).toEqual([]);
      expect(uow.laterRows('events')).toHaveLength(1);
      // The other case's read needs them: written first.
      expect((await read(uow, other)).map((r) => r.type)).toEqual(['ajeno']);
      expect(uow.laterRows('events')).toHaveLength(0);
    });
  });

  it('a write to their table comes after them, so ids keep the order the rows were given in', async () => {
    app = await testApp();
    const ticketId = await bareCase(app);
    await inUnitOfWork(app.db, async (uow) => {
      uow.gather();
      await insertLater(uow, 'events', EVENT_COLUMNS, [[ticketId, 'primero', 'ana@mesa.test', null, 10]]);
      await uow.run(insertSql('events', EVENT_COLUMNS), [ticketId, 'segundo', 'ana@mesa.test', null, 11]);
    });
    const stored = await rows(app.db, 'select "type" from "events" where "ticket_id" = ? order by "id"', [ticketId]);
    expect(stored.map((r) => r.type)).toEqual(['primero', 'segundo']);
  });
});

describe.runIf(onPostgres)('named prepared statements on PostgreSQL', () => {
  it("runs a unit's statements prepared under a name, and the gathered multi-row INSERTs unnamed", async () => {
    app = await testApp();
    const ticketId = await bareCase(app);
    const prepared = await inUnitOfWork(app.db, async (uow) => {
      uow.gather();
      await insertLater(uow, 'events', EVENT_COLUMNS, [[ticketId, 'uno', 'ana@mesa.test', null, 10]]);
      await rows(uow, 'select "type" from "events" where "ticket_id" = ?', [ticketId]);
      await rows(uow, 'select "type" from "events" where "ticket_id" = ?', [ticketId]);
      // The session's prepared statements, as the server keeps them on this connection.
      return rows(uow, 'select "name", "statement" from pg_prepared_statements');
    });
    const texts = prepared.map((p) => String(p.statement));
    expect(prepared.every((p) => String(p.name).startsWith('mesa_'))).toBe(true);
    expect(texts).toContain('select "type" from "events" where "ticket_id" = $1');
    expect(texts.some((t) => t.startsWith('insert into "events"'))).toBe(false);
  });

  it('prepares afresh after another process changed a table under a kept plan: one statement fails, the next works', async () => {
    app = await testApp();
    const ticketId = await bareCase(app);
    const readAll = () =>
      inUnitOfWork(app.db, (uow) => rows(uow, 'select * from "events" where "ticket_id" = ?', [ticketId]));
    await readAll();
    // Another instance migrates: `select *` now has one more column than the plan kept on this connection.
    const other = new pg.Client({ connectionString: app.config.database.url });
    await other.connect();
    try {
      await other.query('alter table "events" add column "nota_migrada" text');
    } finally {
      await other.end();
    }
    let refused: unknown;
    try {
      await readAll();
    } catch (err) {
      refused = err;
    }
    // The pool hands the same idle connection back, and the server refuses the plan it kept there.
    expect((refused as { code?: string }).code).toBe('0A000');
    const again = await readAll();
    expect(again).toEqual([]);
    const withColumn = await inUnitOfWork(app.db, async (uow) => {
      await uow.run(insertSql('events', EVENT_COLUMNS), [ticketId, 'nuevo', 'ana@mesa.test', null, 12]);
      return rows(uow, 'select * from "events" where "ticket_id" = ?', [ticketId]);
    });
    expect(Object.keys(withColumn[0])).toContain('nota_migrada');
  });
});
