import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { simpleParser } from 'mailparser';
import { afterEach, describe, expect, it } from 'vitest';
import { outboxCommand } from '../../../src/cli/outbox.ts';
import { countByState, listOutbox } from '../../../src/db/repos/outbox.ts';
import { Dispatcher, type DispatcherOptions } from '../../../src/outbound/dispatcher.ts';
import { silentLogger } from '../../../src/logger.ts';
import { testApp } from '../../support/app.ts';
import { waitFor } from '../../support/wait.ts';
import { rawMail } from './fixtures.ts';
import { type MailWorld, mailWorld } from '../../support/worlds.ts';

/**
 * Sending: SMTP down then up, 4xx and 5xx answers, a crash between "sent" and "marked sent", several
 * dispatchers on one database, graceful stop, and the .eml fallback — all against a real SMTP server.
 */
let w: MailWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const customer = (i: number) =>
  rawMail({ from: `cliente${i}@empresa${i}.com`, subject: `Problema ${i}`, body: `Detalle del problema ${i}` });
const states = async () => countByState(w!.app.db);
/** Another dispatcher on the world's database and SMTP sink, as a second instance of Mesa would run one. */
const dispatcherOf = (world: MailWorld, extra: Partial<DispatcherOptions> = {}) =>
  new Dispatcher({
    db: world.app.db,
    config: world.app.config,
    blobs: world.app.blobs,
    renderer: world.app.outbound.renderer,
    logger: silentLogger,
    ...extra,
  });
const uniqueIds = () => new Set(w!.sink.messages.map((m) => m.messageId));

describe('outbox dispatcher', () => {
  it('keeps mail while SMTP is down and delivers every one exactly once when it is back', async () => {
    w = await mailWorld();
    await w.sink.stop();
    for (let i = 1; i <= 5; i++) await w.ingest(customer(i));
    // 5 confirmations + 5 × 2 consultant notifications; the dispatcher keeps failing with "connection refused".
    await waitFor('reintentos con el servidor SMTP caído', async () => {
      const rows = await listOutbox(w!.app.db, { limit: 100 });
      return (
        rows.length === 15 &&
        rows.every((r) => r.state === 'pending' && r.attempts >= 2 && /ECONNREFUSED|connect/i.test(r.lastError ?? ''))
      );
    });
    const attemptsWhileDown = (await listOutbox(w.app.db, { limit: 100 })).reduce((n, r) => n + r.attempts, 0);
    await w.sink.start();
    await waitFor('todo enviado', async () => (await states()).sent === 15, 20_000);
    expect(w.sink.messages.length).toBe(15);
    expect(uniqueIds().size).toBe(15);
    console.log(
      `SMTP caído: ${attemptsWhileDown} intentos fallidos en total; al volver: ${w.sink.messages.length} entregados, ${w.sink.messages.length - uniqueIds().size} duplicados`,
    );
  });

  it('dead-letters only the mail the server refuses with 5xx; mesa outbox shows it and --retry sends it once fixed', async () => {
    w = await mailWorld();
    w.sink.failWith({ code: 550, recipient: 'beto@mesa.test', message: '5.1.1 Usuario desconocido' });
    await w.ingest(customer(1));
    await waitFor('uno muerto y dos enviados', async () => {
      const s = await states();
      return s.dead === 1 && s.sent === 2;
    });
    const [dead] = await listOutbox(w.app.db, { states: ['dead'] });
    expect(dead.recipient).toBe('beto@mesa.test');
    expect(dead.lastError).toContain('550');
    expect(dead.attempts).toBe(1);
    expect(w.sink.messages.map((m) => m.to).sort()).toEqual(['ana@mesa.test', 'cliente1@empresa1.com']);

    const out = new PassThrough();
    let text = '';
    out.on('data', (c) => (text += c));
    await outboxCommand(w.app.config, { out });
    expect(text).toContain('muertos: 1');
    expect(text).toMatch(/#\d+ {2}muerto {4}/);
    expect(text).toContain('beto@mesa.test');
    expect(text).toContain('550');

    w.sink.clearFailures();
    await outboxCommand(w.app.config, { retry: true, out });
    await waitFor('reintento entregado', async () => (await states()).sent === 3);
    expect(w.sink.to('beto@mesa.test').length).toBe(1);
    expect(uniqueIds().size).toBe(3);
  });

  it('retries a 4xx answer with backoff and delivers it', async () => {
    w = await mailWorld();
    w.sink.failWith({
      code: 451,
      recipient: 'cliente1@empresa1.com',
      subject: /Problema 1/,
      times: 2,
      message: '4.3.0 Intente más tarde',
    });
    await w.ingest(customer(1));
    await waitFor('todo enviado', async () => (await states()).sent === 3);
    const rows = await listOutbox(w.app.db, { limit: 10 });
    expect(rows.map((r) => r.attempts).sort()).toEqual([1, 1, 3]);
    expect(w.sink.stats.rejected).toBe(2);
    expect(uniqueIds().size).toBe(3);
  });

  it('after a crash between "sent" and "marked sent", resends only that mail, with the same Message-ID', async () => {
    w = await mailWorld({}, { start: false });
    for (let i = 1; i <= 3; i++) await w.ingest(customer(i));
    let crashed: number | undefined;
    const a = dispatcherOf(w, {
      leaseMs: 60_000,
      concurrency: 1,
      afterSend: (row) => {
        if (crashed === undefined) {
          crashed = row.id;
          throw new Error('el proceso murió aquí');
        }
      },
    });
    await a.drain();
    await a.stop();
    expect(w.sink.messages.length).toBe(9);
    const stuck = (await listOutbox(w.app.db, { states: ['sending'] })).map((r) => r.id);
    expect(stuck).toEqual([crashed]);
    // Another instance, two minutes later (its clock), takes the row over: the lease has run out.
    const b = dispatcherOf(w, { clock: () => Date.now() + 120_000 });
    expect(await b.drain()).toBe(1);
    await b.stop();
    expect((await states()).sent).toBe(9);
    expect(w.sink.messages.length).toBe(10);
    const byId = new Map<string, number>();
    for (const m of w.sink.messages) byId.set(m.messageId, (byId.get(m.messageId) ?? 0) + 1);
    const twice = [...byId].filter(([, n]) => n > 1);
    expect(twice.length).toBe(1);
    const crashedRow = (await listOutbox(w.app.db, { limit: 20 })).find((r) => r.id === crashed)!;
    expect(twice[0][0]).toBe(crashedRow.messageId);
    // Same bytes apart from transport details: same Date and subject.
    const copies = w.sink.messages.filter((m) => m.messageId === crashedRow.messageId);
    expect(copies[0].header('date')).toBe(copies[1].header('date'));
  });

  it('never sends a row twice when several dispatchers share the database', async () => {
    w = await mailWorld({}, { start: false });
    for (let i = 1; i <= 10; i++) await w.ingest(customer(i));
    const dispatchers = [1, 2, 3].map(() => dispatcherOf(w!, { concurrency: 3 }));
    const handled = await Promise.all(dispatchers.map((d) => d.drain()));
    await Promise.all(dispatchers.map((d) => d.stop()));
    expect(handled.reduce((a, b) => a + b, 0)).toBe(30);
    expect(w.sink.messages.length).toBe(30);
    expect(uniqueIds().size).toBe(30);
    console.log(
      `3 despachadores a la vez: ${handled.join(' + ')} = 30 filas, ${w.sink.messages.length} correos, 0 duplicados`,
    );
  });

  it('stops gracefully: the mail in hand is finished, the mail claimed ahead is handed back untried', async () => {
    w = await mailWorld();
    for (let i = 1; i <= 4; i++) await w.ingest(customer(i));
    await waitFor('primer envío', () => w!.sink.messages.length > 0);
    await w.app.outbound.dispatcher.stop();
    const s = await states();
    expect(s.sending ?? 0).toBe(0);
    expect((s.sent ?? 0) + (s.pending ?? 0)).toBe(12);
    expect(w.sink.messages.length).toBe(s.sent);
    // Claimed but never begun: pending again, as if never claimed (no attempt counted, no claim left).
    const pending = await listOutbox(w.app.db, { states: ['pending'] });
    expect(pending.map((r) => [r.attempts, r.claimedBy ?? null])).toEqual(pending.map(() => [0, null]));
  });

  it('stopped in the middle of a burst, records every mail the SMTP server took: the next one sends only the rest', async () => {
    w = await mailWorld({}, { start: false });
    for (let i = 1; i <= 10; i++) await w.ingest(customer(i));
    const first = dispatcherOf(w, { concurrency: 3 }).start();
    await waitFor('diez enviados', () => w!.sink.messages.length >= 10);
    await first.stop();
    const s = await states();
    // What the server took is recorded as sent, and nothing else: no row left «sending» to be sent again.
    expect(s.sending ?? 0).toBe(0);
    expect(s.sent).toBe(w.sink.messages.length);
    expect(first.delivered).toBe(s.sent);
    const sentIds = (await listOutbox(w.app.db, { states: ['sent'], limit: 100 })).map((r) => r.messageId).sort();
    expect(sentIds).toEqual([...uniqueIds()].sort());
    const second = dispatcherOf(w, { concurrency: 3 });
    await second.drain();
    await second.stop();
    expect((await states()).sent).toBe(30);
    expect(w.sink.messages.length).toBe(30);
    expect(uniqueIds().size).toBe(30);
  });

  it('composes a burst on the compose thread and a new case on its own thread, the same mail either way', async () => {
    w = await mailWorld({}, { start: false });
    const dispatcher = w.app.outbound.dispatcher;
    await w.ingest(customer(1));
    await dispatcher.drain();
    // A new case's confirmation and notices, three mails for three connections: composed here, no thread started.
    expect([dispatcher.composer.composedHere, dispatcher.composer.composedThere]).toEqual([3, 0]);
    // Two new cases at once, six mails, two rounds of the connections: still no thread.
    for (let i = 2; i <= 3; i++) await w.ingest(customer(i));
    await dispatcher.drain();
    expect([dispatcher.composer.composedHere, dispatcher.composer.composedThere]).toEqual([9, 0]);
    expect(dispatcher.composer.running).toBe(false);
    // Ten at once is a burst: the first claim (twelve mails) and what follows while it is sent go to the thread.
    for (let i = 4; i <= 13; i++) await w.ingest(customer(i));
    await dispatcher.drain();
    expect(dispatcher.composer.composedThere).toBeGreaterThanOrEqual(12);
    expect(dispatcher.composer.composedHere + dispatcher.composer.composedThere).toBe(39);
    expect(w.sink.messages).toHaveLength(39);
    expect(uniqueIds().size).toBe(39);
    const confirmations = w.sink.messages.filter((m) => m.to === 'cliente7@empresa7.com');
    expect(confirmations).toHaveLength(1);
    const [mail] = confirmations;
    expect(mail.envelopeTo).toEqual(['cliente7@empresa7.com']);
    expect(mail.subject).toMatch(/^\[Caso #\d+\] Problema 7$/);
    expect(mail.text).toContain('Detalle del problema 7');
    expect(mail.parsed.inReplyTo).toBeTruthy();
  });

  it('keeps its SMTP session while there is mail to send; SMTP_MAX_MESSAGES closes it after that many', async () => {
    w = await mailWorld({ SMTP_POOL_SIZE: '1' }, { start: false });
    for (let i = 1; i <= 40; i++) await w.ingest(customer(i));
    await w.app.outbound.dispatcher.drain();
    expect(w.sink.messages.length).toBe(120);
    // One session for the 120 mails: nodemailer's pool would have opened a new one after its 100th.
    expect(w.sink.stats.connections).toBe(1);
    await w.close();

    w = await mailWorld({ SMTP_POOL_SIZE: '1', SMTP_MAX_MESSAGES: '5' }, { start: false });
    for (let i = 1; i <= 10; i++) await w.ingest(customer(i));
    await w.app.outbound.dispatcher.drain();
    expect(w.sink.messages.length).toBe(30);
    expect(w.sink.stats.connections).toBe(6);
  });

  it('sends every mail once to a server that caps the mails of a session: the refused one is retried', async () => {
    w = await mailWorld({ SMTP_POOL_SIZE: '1' }, { sink: { messagesPerSession: 5 } });
    for (let i = 1; i <= 10; i++) await w.ingest(customer(i));
    await waitFor('todo enviado', async () => (await states()).sent === 30, 20_000);
    expect(w.sink.messages.length).toBe(30);
    expect(uniqueIds().size).toBe(30);
    // 30 mails need six sessions at least, and each but the last ended in a 421: that mail went again, later.
    expect(w.sink.stats.connections).toBeGreaterThanOrEqual(6);
    const rows = await listOutbox(w.app.db, { limit: 100 });
    expect(rows.filter((r) => r.attempts > 1).length).toBeGreaterThanOrEqual(5);
    expect(rows.every((r) => r.state === 'sent')).toBe(true);
  });

  it('writes .eml files under DATA_DIR/outbox-eml when SMTP_HOST is not set', async () => {
    const app = await testApp();
    try {
      await app.ingest.ingest(customer(1), { kind: 'file', path: 'x.eml' });
      expect(await app.outbound.dispatcher.drain()).toBe(3);
      const dir = path.join(app.config.dataDir, 'outbox-eml');
      const files = fs.readdirSync(dir).filter((f) => f.endsWith('.eml'));
      expect(files.length).toBe(3);
      const raws = files.map((f) => fs.readFileSync(path.join(dir, f), 'latin1'));
      // Every line ends CRLF, the templates' text and HTML too (RFC 5322 §2.3: no CR or LF alone).
      for (const raw of raws) expect(raw.match(/(?<!\r)\n|\r(?!\n)/g)).toBeNull();
      const parsed = await Promise.all(raws.map((raw) => simpleParser(Buffer.from(raw, 'latin1'))));
      const conf = parsed.find((p) => (Array.isArray(p.to) ? p.to[0] : p.to)?.text.includes('cliente1@empresa1.com'))!;
      expect(conf.subject).toBe('[Caso #1] Problema 1');
      expect(conf.headers.get('auto-submitted')).toBe('auto-replied');
      expect(conf.text).toContain('Consultar mi caso: http://127.0.0.1:8080/caso/');
      expect((await countByState(app.db)).sent).toBe(3);
    } finally {
      await app.close();
    }
  });
});
