import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { clockEventsOf, internalNotesCount } from '../../../src/db/repos/case-list.ts';
import { lifecycleEventsOf } from '../../../src/db/repos/lifecycle.ts';
import { findLinkByHash, insertLink } from '../../../src/db/repos/links.ts';
import { expectNewRows } from '../../../src/db/repos/ids-ahead.ts';
import { visibleAttachment } from '../../../src/db/repos/messages.ts';
import { markAnswersRead } from '../../../src/db/repos/status-page.ts';
import {
  attachmentsOf,
  eventsOf,
  insertEvent,
  insertMessage,
  messagesOf,
  type NewMessage,
} from '../../../src/db/repos/tickets.ts';
import { insertLater, insertSql, rows } from '../../../src/db/sql.ts';
import { inUnitOfWork, type UnitOfWork } from '../../../src/db/unit-of-work.ts';
import { onStatements } from '../../../src/db/storage.ts';
import { onPostgres, testApp } from '../../support/app.ts';
import { bareCase } from '../../support/bare-case.ts';
import { tablesInserted } from '../../support/statements.ts';

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

/** A message of case `ticketId` with one file, as the ingest writes it. */
const message = (ticketId: number, role: NewMessage['role'], internal = false): NewMessage => ({
  ticketId,
  role,
  source: 'mail',
  fromAddress: 'juan@cliente.co',
  bodyText: `de ${role}`,
  internal,
  verified: true,
  createdAt: 20,
  attachments: [{ filename: 'f.pdf', contentType: 'application/pdf', size: 3, sha256: 'a'.repeat(64), inline: false }],
});

describe("the readers of a case's messages, files, events and links", () => {
  it('see a message the unit inserted a moment before, still waiting, with no flush asked for', async () => {
    app = await testApp();
    const ticketId = await bareCase(app);
    const other = await bareCase(app, 2, 'beto@empresa.com');
    // As the ingest's batch: gathering, and (PostgreSQL) the message row itself waits under an id taken ahead.
    const inBatch = <T>(fn: (uow: UnitOfWork) => Promise<T>) =>
      inUnitOfWork(app.db, async (uow) => {
        uow.gather();
        expectNewRows(uow, 2);
        return fn(uow);
      });
    const seen = await inBatch(async (uow) => {
      const id = await insertMessage(uow, message(ticketId, 'consultant'));
      await insertMessage(uow, message(ticketId, 'consultant', true));
      // Another case's read needs none of the waiting rows: they keep waiting.
      expect(await messagesOf(uow, other)).toEqual([]);
      expect(await internalNotesCount(uow, [other])).toEqual(new Map());
      expect(uow.laterRows('attachments')).toHaveLength(2);
      const messages = await messagesOf(uow, ticketId);
      const files = await attachmentsOf(
        uow,
        messages.map((m) => Number(m.id)),
      );
      return {
        id,
        messages,
        files,
        visible: await visibleAttachment(uow, ticketId, Number(files[0].id)),
        hidden: await visibleAttachment(uow, ticketId, Number(files[1].id)),
        notes: await internalNotesCount(uow, [ticketId, other]),
        read: await markAnswersRead(uow, ticketId, 30),
      };
    });
    expect(seen.messages.map((m) => m.body_text)).toEqual(['de consultant', 'de consultant']);
    expect(seen.files.map((f) => [Number(f.message_id), f.filename])).toEqual([
      [seen.id, 'f.pdf'],
      [Number(seen.messages[1].id), 'f.pdf'],
    ]);
    expect(seen.visible).toEqual({ filename: 'f.pdf', content_type: 'application/pdf', sha256: 'a'.repeat(64) });
    expect(seen.hidden).toBeUndefined();
    expect(seen.notes).toEqual(new Map([[ticketId, 1]]));
    expect(seen.read).toEqual([seen.id]);
    // The same rows, of the same types, as the query builder reads them once written.
    const built = await app.db('messages').where({ ticket_id: ticketId }).orderBy(['created_at', 'id']);
    expect(await messagesOf(app.db, ticketId)).toEqual(built);
    expect(seen.messages.map((m) => ({ ...m, read_at: built.find((b) => b.id === m.id)?.read_at }))).toEqual(built);
    const ids = built.map((m) => m.id);
    expect(await attachmentsOf(app.db, ids)).toEqual(
      await app.db('attachments').whereIn('message_id', ids).orderBy('id'),
    );
    expect(Number(built[0].read_at)).toBe(30);
  });

  it("see the case's events and a new link still waiting, with no flush asked for", async () => {
    app = await testApp();
    const ticketId = await bareCase(app);
    const seen = await inUnitOfWork(app.db, async (uow) => {
      uow.gather();
      await insertEvent(uow, { ticketId, type: 'stage_changed', actor: 'ana@mesa.test', to: 'resuelto', at: 40 });
      await insertLink(uow, {
        ticketId,
        recipient: 'carla@empresa.com',
        generation: 1,
        tokenHash: 'h1',
        expiresAt: 99,
        now: 40,
      });
      expect(await findLinkByHash(uow, 'otro')).toBeUndefined();
      expect(uow.laterRows('links')).toHaveLength(1);
      return {
        events: (await eventsOf(uow, ticketId)).map((e) => [e.type, e.to_value, Number(e.created_at)]),
        life: (await lifecycleEventsOf(uow, [ticketId])).get(ticketId)?.map((e) => [e.type, e.to, e.at]),
        clock: (await clockEventsOf(uow, [ticketId])).get(ticketId),
        link: await findLinkByHash(uow, 'h1'),
      };
    });
    expect(seen.events).toEqual([['stage_changed', 'resuelto', 40]]);
    expect(seen.life).toEqual([['stage_changed', 'resuelto', 40]]);
    expect(seen.clock).toEqual([{ type: 'stage_changed', to: 'resuelto', at: 40 }]);
    expect(seen.link).toMatchObject({
      ticketId,
      number: 1,
      recipient: 'carla@empresa.com',
      generation: 1,
      expiresAt: 99,
    });
  });
});

describe.runIf(onPostgres)('named prepared statements on PostgreSQL', () => {
  it("runs a unit's statements prepared under a name, the gathered rows too: one text for any count of rows", async () => {
    app = await testApp();
    const ticketId = await bareCase(app);
    const prepared = await inUnitOfWork(app.db, async (uow) => {
      uow.gather();
      await insertLater(uow, 'events', EVENT_COLUMNS, [[ticketId, 'uno', 'ana@mesa.test', null, 10]]);
      await rows(uow, 'select "type" from "events" where "ticket_id" = ?', [ticketId]);
      const three = [2, 3, 4].map((n) => [ticketId, `evento ${n}`, 'ana@mesa.test', null, 10 + n]);
      await insertLater(uow, 'events', EVENT_COLUMNS, three);
      await rows(uow, 'select "type" from "events" where "ticket_id" = ?', [ticketId]);
      // The session's prepared statements, as the server keeps them on this connection.
      return rows(uow, 'select "name", "statement" from pg_prepared_statements');
    });
    const texts = prepared.map((p) => String(p.statement));
    expect(prepared.every((p) => String(p.name).startsWith('mesa_'))).toBe(true);
    expect(texts).toContain('select "type" from "events" where "ticket_id" = $1');
    // One row and three rows went as the same statement, a JSON array of rows; none as a text of VALUES per count.
    expect(texts.filter((t) => t.startsWith('insert into "events"'))).toEqual([
      expect.stringContaining('json_populate_recordset(null::"events", $1::json)'),
    ]);
    const stored = await rows(app.db, 'select "type" from "events" where "ticket_id" = ? order by "id"', [ticketId]);
    expect(stored.map((r) => r.type)).toEqual(['uno', 'evento 2', 'evento 3', 'evento 4']);
  });

  it('writes gathered rows through JSON as they were given: text, numbers, booleans and empty values, in order', async () => {
    app = await testApp();
    const ticketId = await bareCase(app);
    const odd = ['comillas "dobles" y \'simples\'', 'barra \\ invertida', 'ñandú 🦆 \u2028', '{"no":"es json"}', ''];
    const given = Array.from({ length: 130 }, (_, i) => [
      ticketId,
      odd[i % odd.length] + i,
      i % 3 ? 'ana@mesa.test' : null,
      i % 2 ? JSON.stringify({ n: i, texto: odd[i % odd.length] }) : undefined,
      1_765_000_000_000 + i,
    ]);
    await inUnitOfWork(app.db, async (uow) => {
      uow.gather();
      await insertLater(uow, 'events', EVENT_COLUMNS, given);
    });
    const stored = await rows(
      app.db,
      'select "ticket_id", "type", "actor", "data_json", "created_at" from "events" where "ticket_id" = ? order by "id"',
      [ticketId],
    );
    expect(stored.map((r) => [Number(r.ticket_id), r.type, r.actor, r.data_json, Number(r.created_at)])).toEqual(
      given.map(([t, type, actor, data, at]) => [t, type, actor, data ?? null, at]),
    );
    const flag = await inUnitOfWork(app.db, async (uow) => {
      uow.gather();
      await insertLater(
        uow,
        'messages',
        ['ticket_id', 'role', 'source', 'body_text', 'internal', 'created_at'],
        [
          [ticketId, 'consultant', 'mail', 'nota', true, 5],
          [ticketId, 'customer', 'mail', 'pregunta', false, 6],
        ],
      );
      return rows(uow, 'select "internal" from "messages" where "ticket_id" = ? order by "id"', [ticketId]);
    });
    expect(flag.map((r) => r.internal)).toEqual([true, false]);
  });

  it("writes a flush's tables in one statement, a table's second column list after its first; a refused row fails all", async () => {
    app = await testApp();
    const ticketId = await bareCase(app);
    const PARTICIPANT = ['ticket_id', 'address', 'role', 'added_by', 'added_at'];
    const statements: string[] = [];
    const stop = onStatements(app.db, ({ sql }) => void (tablesInserted(sql).length && statements.push(sql)));
    await inUnitOfWork(app.db, async (uow) => {
      uow.gather();
      await insertLater(uow, 'events', EVENT_COLUMNS, [[ticketId, 'uno', 'ana@mesa.test', null, 10]]);
      await insertLater(uow, 'participants', PARTICIPANT, [[ticketId, 'luis@empresa.com', 'cc', 'mail', 10]]);
      await insertLater(uow, 'events', ['ticket_id', 'type', 'created_at'], [[ticketId, 'dos', 11]]);
    });
    stop();
    // The first column list of events; then its second, with the participants, in the next statement.
    expect(statements.map(tablesInserted)).toEqual([['events'], ['events', 'participants']]);
    const stored = await rows(app.db, 'select "type" from "events" where "ticket_id" = ? order by "id"', [ticketId]);
    expect(stored.map((r) => r.type)).toEqual(['uno', 'dos']);

    // A row that names no case: the statement fails, and nothing of the flush is left.
    await expect(
      inUnitOfWork(app.db, async (uow) => {
        uow.gather();
        await insertLater(uow, 'participants', PARTICIPANT, [[ticketId, 'otra@empresa.com', 'cc', 'mail', 12]]);
        await insertLater(uow, 'events', EVENT_COLUMNS, [[ticketId + 1000, 'huérfano', null, null, 12]]);
      }),
    ).rejects.toMatchObject({ code: '23503' });
    const people = await rows(app.db, 'select "address" from "participants" where "ticket_id" = ?', [ticketId]);
    expect(people.map((p) => p.address)).toEqual(['luis@empresa.com']);
  });

  it('writes rows holding bytes as VALUES: JSON would not carry them as they are', async () => {
    app = await testApp();
    const data = Buffer.from([0, 1, 2, 250, 255]);
    const seen: string[] = [];
    const stop = onStatements(app.db, ({ sql }) => seen.push(sql));
    await inUnitOfWork(app.db, async (uow) => {
      uow.gather();
      await insertLater(uow, 'raw_sources', ['sha256', 'size', 'data', 'created_at'], [['b'.repeat(64), 5, data, 1]]);
    });
    stop();
    const [stored] = await rows(app.db, 'select "data" from "raw_sources" where "sha256" = ?', ['b'.repeat(64)]);
    expect(Buffer.compare(stored.data, data)).toBe(0);
    expect(seen.filter((s) => s.startsWith('insert into "raw_sources"'))).toEqual([
      expect.stringMatching(/ values \((\?|\$1), /),
    ]);
  });

  it("plans a read asked 'per-values' with its values every time: it is never kept prepared", async () => {
    app = await testApp();
    const ticketId = await bareCase(app);
    const prepared = await inUnitOfWork(app.db, async (uow) => {
      for (let i = 0; i < 6; i++)
        await rows(
          uow,
          'select "type" from "events" where "actor" = ? and "ticket_id" = ?',
          ['ana@mesa.test', ticketId],
          undefined,
          'per-values',
        );
      return rows(uow, 'select "statement" from pg_prepared_statements');
    });
    expect(prepared.map((p) => String(p.statement)).filter((t) => t.includes('"actor" = $1'))).toEqual([]);
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
