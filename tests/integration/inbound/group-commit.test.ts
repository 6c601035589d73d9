import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { App } from '../../../src/app.ts';
import { listCases } from '../../../src/services/case-view.ts';
import { onPostgres, testApp } from '../../support/app.ts';
import { imapSource, rowCount, savepointsOf } from '../../support/ingest-batches.ts';
import { mail, mailWithAttachment } from '../../support/mail.ts';

/** IngestService.ingestMany: a poller batch in one transaction; a mail that fails is undone alone (savepoints). */

let app: App;
afterEach(async () => app?.close());

describe('group commit (ingestMany)', () => {
  it('lets a mail continue a case opened earlier in the same batch, and sees a duplicate in it', async () => {
    app = await testApp();
    const first = mail(
      {
        From: 'Juan <juan@cliente.co>',
        To: 'soporte@mesa.test',
        Subject: 'Factura mal cargada',
        'Message-ID': '<g1@cliente.co>',
      },
      'No carga la factura 123.',
    );
    const reply = mail(
      {
        From: 'juan@cliente.co',
        To: 'soporte@mesa.test',
        Subject: 'RE: [Caso #1] Factura mal cargada',
        'Message-ID': '<g2@cliente.co>',
        'In-Reply-To': '<g1@cliente.co>',
      },
      'Sigue igual.',
    );
    const results = await app.ingest.ingestMany([
      { raw: first, source: imapSource(1) },
      { raw: reply, source: imapSource(2) },
      { raw: first, source: imapSource(3) },
    ]);
    expect(results.map((r) => [r.outcome, r.effect ?? r.reason, r.ticketNumber])).toEqual([
      ['accepted', 'new_case', 1],
      ['accepted', 'follow_up', 1],
      ['ignored', 'duplicate', undefined],
    ]);
    expect(await rowCount(app, 'ingest_ledger')).toBe(3);
    expect(await rowCount(app, 'messages')).toBe(2);
    // The same batch offered again (a crash before last_uid was saved): every mail is known, nothing doubles.
    const again = await app.ingest.ingestMany([
      { raw: first, source: imapSource(1) },
      { raw: reply, source: imapSource(2) },
      { raw: first, source: imapSource(3) },
    ]);
    expect(again.every((r) => r.alreadyProcessed)).toBe(true);
    expect(await rowCount(app, 'ingest_ledger')).toBe(3);
  });

  it("numbers a batch's new cases consecutively after a reply in it, and the next batch goes on from the last", async () => {
    app = await testApp();
    const mk = (i: number, subject: string, extra: Record<string, string> = {}) =>
      mail(
        { From: `p${i}@org${i}.co`, To: 'soporte@mesa.test', Subject: subject, 'Message-ID': `<n${i}@x>`, ...extra },
        `texto ${i}`,
      );
    const first = await app.ingest.ingestMany([
      { raw: mk(1, 'Uno'), source: imapSource(1) },
      { raw: mk(2, 'Dos'), source: imapSource(2) },
    ]);
    expect(first.map((r) => r.ticketNumber)).toEqual([1, 2]);
    // The batch's first mail is a reply: its message waits before the next mails' new cases, which it does not name.
    const savepoints = savepointsOf(app);
    const second = await app.ingest.ingestMany([
      { raw: mk(1, 'RE: [Caso #1] Uno', { 'Message-ID': '<n1b@x>', 'In-Reply-To': '<n1@x>' }), source: imapSource(3) },
      { raw: mk(3, 'Tres'), source: imapSource(4) },
      { raw: mk(4, 'Cuatro'), source: imapSource(5) },
      { raw: mk(3, 'RE: [Caso #3] Tres', { 'Message-ID': '<n3b@x>', 'In-Reply-To': '<n3@x>' }), source: imapSource(6) },
    ]);
    expect(second.map((r) => [r.effect, r.ticketNumber])).toEqual([
      ['follow_up', 1],
      ['new_case', 3],
      ['new_case', 4],
      ['follow_up', 3],
    ]);
    // In one run: no row refused at the flush (which would have run the batch again, a savepoint per mail).
    expect(savepoints()).toBe(0);
    expect((await listCases(app.db)).map((c) => [c.number, c.subject]).sort()).toEqual([
      [1, 'Uno'],
      [2, 'Dos'],
      [3, 'Tres'],
      [4, 'Cuatro'],
    ]);
    expect(Number((await app.db('counters').where({ name: 'ticket_number' }).first()).value)).toBe(4);
    const third = await app.ingest.ingestMany([{ raw: mk(5, 'Cinco'), source: imapSource(7) }]);
    expect(third.map((r) => r.ticketNumber)).toEqual([5]);
    // Each message on its case: the replies' on theirs.
    const on = async (n: number) =>
      (await app.db('messages').join('tickets', 'tickets.id', 'messages.ticket_id').where('tickets.number', n)).length;
    expect([await on(1), await on(2), await on(3), await on(4), await on(5)]).toEqual([2, 1, 2, 1, 1]);
  });

  it('rolls back only the mail that trips a bug, quarantines it, and keeps the numbers of the others consecutive', async () => {
    app = await testApp();
    // A notifier that fails on one case: the failure happens deep inside that mail's writes.
    app.cases.addNotifier({
      onCaseEvent: async (_trx, e) => {
        if (e.type === 'case_opened' && e.ticket.subject.includes('rompe')) throw new Error('fallo de prueba');
      },
    });
    const mk = (i: number, subject: string) =>
      mail(
        { From: `p${i}@org${i}.co`, To: 'soporte@mesa.test', Subject: subject, 'Message-ID': `<b${i}@x>` },
        `texto ${i}`,
      );
    const savepoints = savepointsOf(app);
    const results = await app.ingest.ingestMany([
      { raw: mk(1, 'Uno'), source: imapSource(1) },
      { raw: mk(2, 'Esto rompe'), source: imapSource(2) },
      { raw: mk(3, 'Tres'), source: imapSource(3) },
    ]);
    // The batch ran first without savepoints, failed on the second mail, and ran again with one per mail.
    expect(savepoints()).toBe(3);
    expect(results.map((r) => [r.outcome, r.effect ?? r.reason, r.ticketNumber])).toEqual([
      ['accepted', 'new_case', 1],
      ['rejected', 'internal_error', undefined],
      ['accepted', 'new_case', 2],
    ]);
    expect((await listCases(app.db)).map((c) => [c.number, c.subject]).sort()).toEqual([
      [1, 'Uno'],
      [2, 'Tres'],
    ]);
    expect(await app.db('quarantine').select('reason', 'subject')).toEqual([
      { reason: 'internal_error', subject: 'Esto rompe' },
    ]);
    // Nothing of the broken mail's case survived: no message, no mail queued for it.
    expect(await rowCount(app, 'messages')).toBe(2);
    expect((await app.db('outbox').select('ticket_id')).every((r) => r.ticket_id !== null)).toBe(true);
    expect(await rowCount(app, 'ingest_ledger')).toBe(3);
  });

  it('takes the parses parseAhead started (each mail parsed once), with the same results as parsing in its turn', async () => {
    app = await testApp();
    const parse = vi.spyOn(app.ingest.parser, 'parse');
    const first = mail(
      {
        From: 'Juan <juan@cliente.co>',
        To: 'soporte@mesa.test',
        Subject: 'Factura mal cargada',
        'Message-ID': '<a1@cliente.co>',
      },
      'No carga la factura 123.',
    );
    const reply = mail(
      {
        From: 'juan@cliente.co',
        To: 'soporte@mesa.test',
        Subject: 'RE: [Caso #1] Factura mal cargada',
        'Message-ID': '<a2@cliente.co>',
        'In-Reply-To': '<a1@cliente.co>',
      },
      'Sigue igual.',
    );
    const noSender = mail(
      { To: 'soporte@mesa.test', Subject: 'Sin remitente', 'Message-ID': '<a3@cliente.co>' },
      'De nadie.',
    );
    const items = [
      { raw: first, source: imapSource(1) },
      { raw: reply, source: imapSource(2) },
      { raw: noSender, source: imapSource(3) },
    ];
    app.ingest.parseAhead(items.map((it) => it.raw));
    app.ingest.parseAhead([first]); // already started: not twice
    expect(parse).toHaveBeenCalledTimes(3);
    const results = await app.ingest.ingestMany(items);
    expect(parse).toHaveBeenCalledTimes(3);
    expect(results.map((r) => [r.outcome, r.effect ?? r.reason, r.ticketNumber])).toEqual([
      ['accepted', 'new_case', 1],
      ['accepted', 'follow_up', 1],
      ['rejected', 'no_sender', undefined],
    ]);
    // Taken once: the same Buffer offered again is parsed again, and found in the ledger.
    expect((await app.ingest.ingestMany([items[0]]))[0]).toMatchObject({ alreadyProcessed: true });
  });

  it('records nothing of the batch when storage fails (tempfail), and all of it on the retry', async () => {
    app = await testApp();
    // Real disk trouble: DATA_DIR/blobs is a file, so storing the attachments fails (STORAGE_FAILED, retryable).
    const blobs = path.join(app.config.dataDir, 'blobs');
    fs.rmSync(blobs, { recursive: true, force: true });
    fs.writeFileSync(blobs, 'no es una carpeta');
    const items = [1, 2, 3].map((i) => ({
      raw: mailWithAttachment(
        { From: `p${i}@org${i}.co`, To: 'soporte@mesa.test', Subject: `Caso ${i}`, 'Message-ID': `<t${i}@x>` },
        `texto ${i}`,
        { filename: `f${i}.pdf`, content: Buffer.from(`%PDF ${i}`) },
      ),
      source: imapSource(i),
    }));
    const failed = await app.ingest.ingestMany(items);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ outcome: 'tempfail', reason: 'STORAGE_FAILED' });
    expect(await rowCount(app, 'ingest_ledger')).toBe(0);
    expect(await rowCount(app, 'tickets')).toBe(0);
    expect(await rowCount(app, 'outbox')).toBe(0);

    fs.rmSync(blobs);
    fs.mkdirSync(blobs);
    const retried = await app.ingest.ingestMany(items);
    expect(retried.map((r) => r.ticketNumber)).toEqual([1, 2, 3]);
    expect(await rowCount(app, 'ingest_ledger')).toBe(3);
  });

  it('makes the whole batch wait when its commit cannot be flushed to disk, and finds it in the ledger when offered again', async () => {
    app = await testApp();
    const items = [1, 2].map((i) => ({
      raw: mail(
        { From: `d${i}@org${i}.co`, To: 'soporte@mesa.test', Subject: `Durable ${i}`, 'Message-ID': `<d${i}@x>` },
        `texto ${i}`,
      ),
      source: imapSource(i),
    }));
    // The WAL flush after the commit (an fdatasync, src/db/knex.ts syncCommitted) fails once with EIO.
    const open = fs.promises.open;
    const spy = vi.spyOn(fs.promises, 'open').mockImplementation(async (...args: Parameters<typeof open>) => {
      const fh = await open(...args);
      if (!String(args[0]).endsWith('-wal')) return fh;
      spy.mockRestore();
      fh.datasync = async () => {
        throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
      };
      return fh;
    });
    const first = await app.ingest.ingestMany(items);
    spy.mockRestore();
    if (onPostgres) {
      // PostgreSQL syncs each commit itself: there is no flush afterwards that could fail.
      expect(first.map((r) => r.outcome)).toEqual(['accepted', 'accepted']);
    } else {
      // Committed, but maybe not on disk: the batch waits from its first mail on (the caller must not move it)…
      expect(first).toHaveLength(1);
      expect(first[0]).toMatchObject({ outcome: 'tempfail', detail: expect.stringContaining('EIO') });
    }
    // …and offered again it is found in the ledger: exactly once.
    const again = await app.ingest.ingestMany(items);
    expect(again.map((r) => [r.outcome, r.alreadyProcessed])).toEqual([
      ['accepted', true],
      ['accepted', true],
    ]);
    expect(await rowCount(app, 'tickets')).toBe(2);
  });
});
