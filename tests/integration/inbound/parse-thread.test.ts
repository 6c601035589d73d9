import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { isMesaError } from '../../../src/errors.ts';
import { parseMail } from '../../../src/inbound/parse.ts';
import { ParseThread } from '../../../src/inbound/parse-thread.ts';
import { SEND_TO_THREAD_MAX_BYTES } from '../../../src/inbound/parse-thread-transfer.ts';
import { BlobStore } from '../../../src/storage/blobs.ts';
import { mail } from '../../support/mail.ts';
import { testApp, testConfig } from '../../support/app.ts';
import { BUILT_PARSE_WORKER } from '../../support/built.ts';
import { createApp, type App } from '../../../src/app.ts';
import { silentLogger } from '../../../src/logger.ts';
import { readOriginal } from '../../../src/storage/originals.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures/es');
const MISBEHAVING = new URL('../../support/misbehaving-parse-worker.mjs', import.meta.url);

/** A logger whose lines the test can read. */
function recordingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s)) });
  return { logger, lines };
}

const withAttachment = (file: Buffer) =>
  Buffer.from(
    [
      'From: Carla <carla@cliente.co>',
      'To: soporte@mesa.test',
      'Subject: Factura con adjunto',
      'Message-ID: <adj-1@cliente.co>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b"',
      '',
      '--b',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Adjunto la factura.',
      '--b',
      'Content-Type: application/pdf; name="factura.pdf"',
      'Content-Disposition: attachment; filename="factura.pdf"',
      'Content-Transfer-Encoding: base64',
      '',
      file.toString('base64').replace(/.{76}/g, '$&\r\n'),
      '--b--',
      '',
    ].join('\r\n'),
  );

let cleanup: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

function store(): BlobStore {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-pthread-'));
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return new BlobStore(dir);
}

function thread(opts: Partial<ConstructorParameters<typeof ParseThread>[0]> = {}) {
  const { logger, lines } = recordingLogger();
  // The built body, as `mesa start` runs it (tests/support/built.ts), unless the test gives another.
  const t = new ParseThread({ blobs: opts.blobs ?? store(), logger, workerUrl: BUILT_PARSE_WORKER, ...opts });
  cleanup.push(() => t.close());
  return { t, lines };
}

const sha = BlobStore.sha256;

describe('the parse thread', () => {
  it('parses on another thread exactly what parseMail parses here, attachments streamed into the same store', async () => {
    const blobs = store();
    const { t } = thread({ blobs });
    const file = crypto.randomBytes(1_300_000);
    const raws = [
      ...fs
        .readdirSync(FIXTURES)
        .filter((f) => f.endsWith('.eml'))
        .slice(0, 8)
        .map((f) => fs.readFileSync(path.join(FIXTURES, f))),
      withAttachment(file),
    ];
    // All sent at once, as ingest does with a batch: the answers still come back each to its own mail.
    const there = await Promise.all(raws.map((raw) => t.parse(raw, sha(raw))));
    expect(t.threadId).toBeGreaterThan(0);
    for (const [i, raw] of raws.entries()) {
      // raw apart: the main thread's own buffer comes back (and a byte-by-byte toEqual of 1.8 MB takes seconds).
      const { raw: hereRaw, ...here } = await parseMail(raw, {}, sha(raw), blobs);
      const { raw: thereRaw, ...parsed } = there[i];
      expect(parsed).toEqual(here);
      expect(thereRaw).toBe(raw);
      expect(hereRaw).toBe(raw);
    }
    const pdf = there.at(-1)!.attachments[0];
    expect(pdf).toMatchObject({ filename: 'factura.pdf', size: file.length, sha256: sha(file) });
    expect((await blobs.get(pdf.sha256!)).equals(file)).toBe(true);
  });

  it('parses a mail larger than SEND_TO_THREAD_MAX_BYTES on the thread, by transfer, and gives its bytes back (issue 23)', async () => {
    const blobs = store();
    const { t } = thread({ blobs });
    const file = crypto.randomBytes(SEND_TO_THREAD_MAX_BYTES);
    const big = withAttachment(file);
    const bigSha = sha(big);
    const small = mail({ From: 'a@cliente.co', Subject: 'pequeño' }, 'uno');
    // Queued behind a small one, and one behind it: answered in order.
    const [r1, r2, r3] = await Promise.all([
      t.parse(small, sha(small)),
      t.parse(big, bigSha),
      t.parse(small, sha(small)),
    ]);
    expect(r2.attachments[0]).toMatchObject({ filename: 'factura.pdf', size: file.length, sha256: sha(file) });
    expect([r1.subject, r3.subject]).toEqual(['pequeño', 'pequeño']);
    expect(t.answered).toBe(3);
    expect(t.parsedHere).toBe(0);
    // Transferred, not copied: the caller's buffer was moved to the thread, and the mail's bytes came back whole.
    expect(big.byteLength).toBe(0);
    expect(sha(r2.raw)).toBe(bigSha);
    // Its spill file is gone once answered.
    expect(fs.existsSync(path.join(blobs.root, 'tmp')) ? fs.readdirSync(path.join(blobs.root, 'tmp')) : []).toEqual([]);
  });

  it('gives a large mail that kills the thread back with its error, whole, from the spill file', async () => {
    const { t } = thread({ workerUrl: MISBEHAVING });
    const bad = Buffer.concat([
      mail({ From: 'b@cliente.co', Subject: 'crash-parser' }, 'x'.repeat(SEND_TO_THREAD_MAX_BYTES + 10)),
    ]);
    const badSha = sha(bad);
    const after = mail({ From: 'c@cliente.co', Subject: 'después' }, 'tres');
    const [r1, r2] = await Promise.allSettled([t.parse(bad, badSha), t.parse(after, sha(after))]);
    const err = (r1 as PromiseRejectedResult).reason;
    expect(isMesaError(err, 'MAIL_UNPARSEABLE')).toBe(true);
    const { rawOfFailure } = await import('../../../src/inbound/parser.ts');
    expect(sha(rawOfFailure(err)!)).toBe(badSha);
    expect(r2).toMatchObject({ status: 'fulfilled', value: { subject: 'después' } });
  });

  it('reports a broken mail with the same error as here', async () => {
    const { t } = thread();
    const err = await t.parse(Buffer.alloc(0), sha(Buffer.alloc(0))).catch((e) => e);
    expect(isMesaError(err, 'MAIL_EMPTY')).toBe(true);
    expect(err.retryable).toBe(false);
  });

  it('charges a mail that kills the thread with it (unparseable), and parses the mails queued behind it on a new thread', async () => {
    const { t, lines } = thread({ workerUrl: MISBEHAVING });
    const before = mail({ From: 'a@cliente.co', Subject: 'antes' }, 'uno');
    const bad = mail({ From: 'b@cliente.co', Subject: 'crash-parser' }, 'dos');
    const after = mail({ From: 'c@cliente.co', Subject: 'después' }, 'tres');
    const [r1, r2, r3] = await Promise.allSettled([before, bad, after].map((raw) => t.parse(raw, sha(raw))));
    expect(r1).toMatchObject({ status: 'fulfilled', value: { subject: 'antes' } });
    expect(r2.status).toBe('rejected');
    const err = (r2 as PromiseRejectedResult).reason;
    expect(isMesaError(err, 'MAIL_UNPARSEABLE')).toBe(true);
    expect(err.retryable).toBe(false);
    expect(r3).toMatchObject({ status: 'fulfilled', value: { subject: 'después' } });
    expect(
      lines.some((l) => l.msg === 'el hilo de análisis se detuvo; se inicia otro para los mensajes siguientes'),
    ).toBe(true);
  });

  it('when no new thread can start after a crash, parses the mails queued behind it here', async () => {
    // A body that can start once: its file is gone when the thread is started again (a broken install under a
    // running Mesa).
    const once = path.join(import.meta.dirname, '../../support', `once-parse-worker-${process.pid}.mjs`);
    fs.copyFileSync(fileURLToPath(MISBEHAVING), once);
    cleanup.push(() => fs.rmSync(once, { force: true }));
    const { t, lines } = thread({ workerUrl: pathToFileURL(once) });
    const first = mail({ From: 'a@cliente.co', Subject: 'primero' }, 'uno');
    await t.parse(first, sha(first));
    fs.rmSync(once);
    const bad = mail({ From: 'b@cliente.co', Subject: 'crash-parser' }, 'dos');
    const after = [
      mail({ From: 'c@cliente.co', Subject: 'tres' }, 'x'),
      mail({ From: 'd@cliente.co', Subject: 'cuatro' }, 'y'),
    ];
    const [r1, ...rest] = await Promise.allSettled([bad, ...after].map((raw) => t.parse(raw, sha(raw))));
    expect(isMesaError((r1 as PromiseRejectedResult).reason, 'MAIL_UNPARSEABLE')).toBe(true);
    expect(rest.map((r) => (r as PromiseFulfilledResult<{ subject: string }>).value?.subject)).toEqual([
      'tres',
      'cuatro',
    ]);
    expect(t.threadId).toBeUndefined();
    expect(lines.some((l) => l.msg === 'no se pudo iniciar el hilo de análisis; se analiza en el hilo principal')).toBe(
      true,
    );
  });

  it('stops a thread stuck on one mail after the time limit (parse_timeout) and goes on with the next', async () => {
    const { t } = thread({ workerUrl: MISBEHAVING, timeoutMs: 1000 });
    // Warm first: the limit is for parsing, not for the thread's own start.
    const first = mail({ From: 'a@cliente.co', Subject: 'primero' }, 'uno');
    await t.parse(first, sha(first));
    const stuck = mail({ From: 'b@cliente.co', Subject: 'hang-parser' }, 'dos');
    const next = mail({ From: 'c@cliente.co', Subject: 'siguiente' }, 'tres');
    const [r1, r2] = await Promise.allSettled([stuck, next].map((raw) => t.parse(raw, sha(raw))));
    expect(r1.status).toBe('rejected');
    expect(isMesaError((r1 as PromiseRejectedResult).reason, 'MAIL_PARSE_TIMEOUT')).toBe(true);
    expect(r2).toMatchObject({ status: 'fulfilled', value: { subject: 'siguiente' } });
  });

  it('parses on this thread, with a warning, when the thread cannot start', async () => {
    const { t, lines } = thread({ workerUrl: new URL('./no-such-parse-worker.js', import.meta.url) });
    const raws = [
      mail({ From: 'a@cliente.co', Subject: 'uno' }, 'x'),
      mail({ From: 'b@cliente.co', Subject: 'dos' }, 'y'),
    ];
    const parsed = await Promise.all(raws.map((raw) => t.parse(raw, sha(raw))));
    expect(parsed.map((m) => m.subject)).toEqual(['uno', 'dos']);
    expect(t.threadId).toBeUndefined();
    expect(
      lines.filter((l) => l.msg === 'no se pudo iniciar el hilo de análisis; se analiza en el hilo principal'),
    ).toHaveLength(1);
  });

  it('after close(), a mail waits (retryable) instead of being parsed or lost', async () => {
    const { t } = thread();
    await t.close();
    const raw = mail({ From: 'a@cliente.co', Subject: 'tarde' }, 'x');
    const err = await t.parse(raw, sha(raw)).catch((e) => e);
    expect(isMesaError(err, 'PARSER_UNAVAILABLE')).toBe(true);
    expect(err.retryable).toBe(true);
  });
});

describe('ingest with the parse thread (PARSE_WORKER=true, as `mesa start` runs)', () => {
  let app: App | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('opens a case from a mail with an attachment and threads its follow-up, in one batch', async () => {
    app = await testApp({ PARSE_WORKER: 'true' });
    const file = crypto.randomBytes(40_000);
    const first = withAttachment(file);
    const second = mail(
      {
        From: 'carla@cliente.co',
        To: 'soporte@mesa.test',
        Subject: 'Re: Factura con adjunto',
        'Message-ID': '<adj-2@cliente.co>',
        'In-Reply-To': '<adj-1@cliente.co>',
      },
      'Ya la encontré, gracias.',
    );
    const results = await app.ingest.ingestMany(
      [first, second].map((raw, i) => ({
        raw,
        source: { kind: 'imap' as const, account: 'support' as const, folder: 'INBOX', uidvalidity: 1, uid: i + 1 },
      })),
    );
    expect(results.map((r) => [r.outcome, r.effect, r.ticketNumber])).toEqual([
      ['accepted', 'new_case', 1],
      ['accepted', 'follow_up', 1],
    ]);
    const attachment = await app.db('attachments').first();
    expect(attachment).toMatchObject({ filename: 'factura.pdf', sha256: sha(file) });
    expect(Number(attachment.size)).toBe(file.length);
    expect((await app.blobs.get(attachment.sha256)).equals(file)).toBe(true);
  });

  it('parses a mail over 4 MB on the parse thread, parseAhead included, and keeps its original whole (issue 23)', async () => {
    const config = await testConfig();
    const parser = new ParseThread({
      blobs: new BlobStore(path.join(config.dataDir, 'blobs')),
      logger: silentLogger,
      maxAttachmentBytes: config.limits.maxAttachmentBytes,
      workerUrl: BUILT_PARSE_WORKER,
    });
    app = await createApp(config, silentLogger, { parser });
    const file = crypto.randomBytes(SEND_TO_THREAD_MAX_BYTES);
    const big = withAttachment(file);
    const bigSha = sha(big);
    const source = { kind: 'imap' as const, account: 'support' as const, folder: 'INBOX', uidvalidity: 1, uid: 1 };
    // As the poller does: handed over ahead of its batch, then ingested.
    app.ingest.parseAhead([big]);
    const [r] = await app.ingest.ingestMany([{ raw: big, source }]);
    expect(r).toMatchObject({ outcome: 'accepted', effect: 'new_case', ticketNumber: 1 });
    expect(parser.answered).toBe(1);
    expect(parser.parsedHere).toBe(0);
    expect(big.byteLength).toBe(0); // transferred to the thread, not copied
    const message = await app.db('messages').first();
    expect(message.raw_sha256).toBe(bigSha);
    expect(sha(await readOriginal(app.db, app.blobs, bigSha))).toBe(bigSha);
    expect((await app.blobs.get((await app.db('attachments').first()).sha256)).equals(file)).toBe(true);
  });

  it('quarantines a large mail whose parse kills the thread with its whole original', async () => {
    const config = await testConfig();
    const blobs = new BlobStore(path.join(config.dataDir, 'blobs'));
    const parser = new ParseThread({ blobs, logger: silentLogger, workerUrl: MISBEHAVING });
    app = await createApp(config, silentLogger, { parser });
    const bad = mail(
      {
        From: 'b@cliente.co',
        To: 'soporte@mesa.test',
        Subject: 'crash-parser',
        'Message-ID': '<crash-big@cliente.co>',
      },
      'x'.repeat(SEND_TO_THREAD_MAX_BYTES + 10),
    );
    const [badSha, badSize] = [sha(bad), bad.length];
    const r = await app.ingest.ingest(bad, { kind: 'stdin' });
    expect(r).toMatchObject({ outcome: 'rejected', reason: 'unparseable' });
    const q = await app.db('quarantine').first();
    expect(q.raw_sha256).toBe(badSha);
    expect(Number(q.size)).toBe(badSize);
    expect(sha(await readOriginal(app.db, app.blobs, badSha))).toBe(badSha);
  });
});
