import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { updateTicket } from '../../../src/db/repos/tickets.ts';
import { insertId, insertLater, insertSql, row, rows, run } from '../../../src/db/sql.ts';
import { inUnitOfWork, memoKey } from '../../../src/db/unit-of-work.ts';
import { onStatements } from '../../../src/db/storage.ts';
import { onPostgres, testApp } from '../../support/app.ts';
import { bareCase } from '../../support/bare-case.ts';

/** src/db/sql.ts: plain SQL on both databases, straight to the transaction's connection on SQLite. */
let app: App;
afterEach(async () => app?.close());

const INSERT_EVENT = insertSql('events', ['ticket_id', 'type', 'actor', 'data_json', 'created_at']);

describe('plain SQL (src/db/sql.ts)', () => {
  it('reads and writes inside a transaction, sees its own writes, and a rolled-back savepoint takes its writes with it', async () => {
    app = await testApp();
    const ticketId = await bareCase(app);
    await inUnitOfWork(app.db, async (trx) => {
      expect(await run(trx, INSERT_EVENT, [ticketId, 'uno', 'ana@mesa.test', null, 10])).toBe(1);
      await expect(
        trx.savepoint(async (sp) => {
          await run(sp, INSERT_EVENT, [ticketId, 'dos', undefined, null, 11]);
          expect(await rows(sp, 'select "type" from "events" where "ticket_id" = ? order by "id"', [ticketId])).toEqual(
            [{ type: 'uno' }, { type: 'dos' }],
          );
          throw new Error('se deshace');
        }),
      ).rejects.toThrow('se deshace');
      // The savepoint's write is gone, the transaction's stays; nothing is visible outside until the commit.
      expect(
        (await rows(trx, 'select "type" from "events" where "ticket_id" = ?', [ticketId])).map((r) => r.type),
      ).toEqual(['uno']);
    });
    const stored = await rows(app.db, 'select "type", "actor", "created_at" from "events" where "ticket_id" = ?', [
      ticketId,
    ]);
    expect(stored.map((r) => [r.type, r.actor, Number(r.created_at)])).toEqual([['uno', 'ana@mesa.test', 10]]);
  });

  it('stores half an emoji (a surrogate with no pair) as U+FFFD, in a unit of work, a flush or through knex', async () => {
    app = await testApp();
    const ticketId = await bareCase(app);
    // What "…😀".slice(0, n) leaves when the cut falls inside the emoji.
    const cut = (word: string) => `${word} 😀`.slice(0, word.length + 2);
    await inUnitOfWork(app.db, async (uow) => {
      await run(uow, INSERT_EVENT, [ticketId, cut('unidad'), null, null, 1]);
      uow.gather();
      await insertLater(
        uow,
        'events',
        ['ticket_id', 'type', 'actor', 'data_json', 'created_at'],
        [[ticketId, cut('tanda'), null, null, 2]],
      );
    });
    await run(app.db, INSERT_EVENT, [ticketId, cut('knex'), null, null, 3]);
    const stored = await rows(app.db, 'select "type" from "events" where "ticket_id" = ? order by "created_at"', [
      ticketId,
    ]);
    expect(stored.map((r) => r.type)).toEqual(['unidad \ufffd', 'tanda \ufffd', 'knex \ufffd']);
  });

  it('binds booleans and undefined as each database stores them, and returns the inserted id', async () => {
    app = await testApp();
    const ticketId = await bareCase(app);
    const inserted = await inUnitOfWork(app.db, (trx) =>
      row(
        trx,
        `${insertSql('messages', ['ticket_id', 'role', 'source', 'body_text', 'internal', 'verified', 'from_name', 'created_at'])} returning "id"`,
        [ticketId, 'customer', 'mail', 'Hola', true, false, undefined, 5],
      ),
    );
    expect(Number(inserted.id)).toBeGreaterThan(0);
    const m = await app.db('messages').where({ id: inserted.id }).first();
    expect([Boolean(m.internal), Boolean(m.verified), m.from_name]).toEqual([true, false, null]);
  });

  it('fails as knex would: a constraint names itself, and a finished transaction refuses more statements', async () => {
    app = await testApp();
    const claim = insertSql('ingest_effects', ['content_hash', 'source_key']);
    let kept: any;
    await inUnitOfWork(app.db, async (trx) => {
      kept = trx;
      await run(trx, claim, ['h'.repeat(64), 'file:a']);
      await expect(run(trx, claim, ['h'.repeat(64), 'file:b'])).rejects.toThrow(
        onPostgres ? /ingest_effects_pkey/ : /ingest_effects\.content_hash/,
      );
    }).catch(() => undefined); // PostgreSQL aborts the transaction after the failed statement
    await expect(run(kept, claim, ['i'.repeat(64), 'file:c'])).rejects.toThrow();
  });

  it("insertId(): the new row's id inside and outside a transaction, undefined when a conflict inserted nothing", async () => {
    app = await testApp();
    const ticketId = await bareCase(app);
    const link = insertSql(
      'links',
      ['ticket_id', 'recipient', 'generation', 'token_hash', 'expires_at', 'created_at'],
      1,
      'on conflict ("token_hash") do nothing',
    );
    const outside = await insertId(app.db, link, [ticketId, 'carla@empresa.com', 1, 'h1', 10, 1]);
    const [inside, again, next] = await inUnitOfWork(app.db, async (trx) => [
      await insertId(trx, link, [ticketId, 'carla@empresa.com', 2, 'h2', 10, 1]),
      await insertId(trx, link, [ticketId, 'carla@empresa.com', 3, 'h2', 10, 1]),
      await insertId(trx, link, [ticketId, 'carla@empresa.com', 3, 'h3', 10, 1]),
    ]);
    const ids = (await app.db('links').orderBy('id').select('id', 'token_hash')).map((r) => [
      Number(r.id),
      r.token_hash,
    ]);
    expect(ids).toEqual([
      [outside, 'h1'],
      [inside, 'h2'],
      [next, 'h3'],
    ]);
    expect(again).toBeUndefined();
    expect(new Set([outside, inside, next]).size).toBe(3);
  });

  it('tells statement listeners about every statement, in a unit of work or not (tests and tests/bench/sqlprof.ts count them)', async () => {
    app = await testApp();
    const seen: Array<{ sql: string; bindings: readonly unknown[] }> = [];
    const stop = onStatements(app.db, (s) => seen.push(s));
    await inUnitOfWork(app.db, (uow) =>
      rows(uow, 'select "value" from "counters" where "name" = ?', ['ticket_number']),
    );
    await rows(app.db, 'select "value" from "counters" where "name" = ?', ['ticket_number']);
    stop();
    await rows(app.db, 'select "value" from "counters" where "name" = ?', ['ticket_number']);
    const ours = seen.filter((s) => /from "counters"/.test(s.sql));
    expect(ours).toHaveLength(2);
    expect(ours.map((s) => s.bindings)).toEqual([['ticket_number'], ['ticket_number']]);
  });

  it('builds an UPDATE of a case from the columns given, and refuses a column name that is not one of ours', async () => {
    app = await testApp();
    const ticketId = await bareCase(app);
    await updateTicket(app.db, ticketId, {
      waiting_on: 'cliente',
      closed_at: null,
      assignee: undefined,
      updated_at: 7,
    });
    const t = await app.db('tickets').where({ id: ticketId }).first();
    expect([t.waiting_on, t.closed_at, t.assignee, Number(t.updated_at)]).toEqual(['cliente', null, null, 7]);
    await expect(updateTicket(app.db, ticketId, { "stage\" = 'cerrado' --": 1 })).rejects.toThrow('columna inválida');
    expect((await app.db('tickets').where({ id: ticketId }).first()).stage).toBe('abierto');
  });

  it('savepoint(): a failed mail takes only its own writes with it, even after a failed statement, and the batch goes on', async () => {
    app = await testApp();
    const ticketId = await bareCase(app);
    const claim = insertSql('ingest_effects', ['content_hash', 'source_key']);
    const types = (db: any) =>
      rows(db, 'select "type" from "events" where "ticket_id" = ? order by "id"', [ticketId]).then((r) =>
        r.map((x) => x.type),
      );
    await inUnitOfWork(app.db, async (trx) => {
      await run(trx, claim, ['a'.repeat(64), 'file:a']);
      expect(
        await trx.savepoint(async (sp) => {
          await run(sp, INSERT_EVENT, [ticketId, 'primero', null, null, 1]);
          return 'hecho';
        }),
      ).toBe('hecho');
      // A constraint error inside: on PostgreSQL the statement aborts the transaction until ROLLBACK TO.
      await expect(
        trx.savepoint(async (sp) => {
          await run(sp, INSERT_EVENT, [ticketId, 'deshecho', null, null, 2]);
          await run(sp, claim, ['a'.repeat(64), 'file:b']);
        }),
      ).rejects.toThrow(onPostgres ? /ingest_effects_pkey/ : /ingest_effects\.content_hash/);
      // Nested, with the same name at both levels: the inner one's rollback leaves the outer one's writes.
      await trx.savepoint(async (outer) => {
        await run(outer, INSERT_EVENT, [ticketId, 'exterior', null, null, 3]);
        await expect(
          outer.savepoint(async (inner) => {
            await outer.trx(`events`).insert({ ticket_id: ticketId, type: 'interior', created_at: 4 });
            expect(await types(inner)).toEqual(['primero', 'exterior', 'interior']);
            throw new Error('interior falla');
          }),
        ).rejects.toThrow('interior falla');
      });
      expect(await types(trx)).toEqual(['primero', 'exterior']);
    });
    expect(await types(app.db)).toEqual(['primero', 'exterior']);
    expect((await rows(app.db, 'select "source_key" from "ingest_effects"')).map((r) => r.source_key)).toEqual([
      'file:a',
    ]);
  });

  it('savepoint() and scope(): a child unit whose memo and after-commit work join its parent when released, and are dropped when it rolls back', async () => {
    app = await testApp();
    const perUnit = memoKey('test.perUnit', () => [] as string[]);
    let copied = 0;
    const shared = memoKey(
      'test.shared',
      () => [] as string[],
      (parent) => (copied++, [...parent]),
    );
    const ran: string[] = [];
    await inUnitOfWork(app.db, async (uow) => {
      uow.memo(shared).push('lote');
      uow.memo(perUnit).push('lote');
      await uow.savepoint(async (mail) => {
        // A child starts from its parent's state about the whole unit, and afresh on its own.
        expect(mail.memo(shared)).toEqual(['lote']);
        expect(mail.memo(perUnit)).toEqual([]);
        mail.memo(shared).push('correo 1');
        mail.afterCommit(() => ran.push('correo 1'));
      });
      await expect(
        uow.savepoint(async (mail) => {
          mail.memo(shared).push('correo 2');
          mail.afterCommit(() => ran.push('correo 2'));
          throw new Error('el correo 2 falla');
        }),
      ).rejects.toThrow('el correo 2 falla');
      // A scope (no savepoint: its failure loses the whole transaction) works on the parent's own state, not a copy
      // made for every mail of the batch.
      const copies = copied;
      await uow.scope(async (mail) => {
        expect(mail.memo(shared)).toBe(uow.memo(shared));
        expect(mail.memo(perUnit)).toEqual([]);
        mail.memo(shared).push('correo 3');
      });
      expect(copied).toBe(copies);
      expect(uow.memo(shared)).toEqual(['lote', 'correo 1', 'correo 3']);
      expect(uow.memo(perUnit)).toEqual(['lote']);
      // Nothing runs before the commit.
      expect(ran).toEqual([]);
    });
    expect(ran).toEqual(['correo 1']);
  });

  it('afterCommit(): nothing runs when the unit of work rolls back', async () => {
    app = await testApp();
    const ran: string[] = [];
    await expect(
      inUnitOfWork(app.db, async (uow) => {
        uow.afterCommit(() => ran.push('no'));
        await uow.savepoint(async (mail) => void mail.afterCommit(() => ran.push('tampoco')));
        throw new Error('se deshace todo');
      }),
    ).rejects.toThrow('se deshace todo');
    expect(ran).toEqual([]);
  });
});
