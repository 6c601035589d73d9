import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { listQuarantine } from '../../../src/db/repos/quarantine.ts';
import { createImapClient } from '../../../src/inbound/imap-client.ts';
import { HEADER_SUMMARY_BYTES } from '../../../src/inbound/quarantine.ts';
import { startPollers } from '../../../src/inbound/readers.ts';
import { listCases } from '../../../src/services/case-view.ts';
import { readOriginal } from '../../../src/storage/originals.ts';
import { testApp } from '../../support/app.ts';
import { startDovecot, type Dovecot } from '../../support/dovecot.ts';
import { mail } from '../../support/mail.ts';
import { observedIngest } from '../../support/observed-ingest.ts';
import { waitFor } from '../../support/wait.ts';
import { mailWorld, supportMailboxEnv, type MailWorld } from '../../support/worlds.ts';

// A mail over MAX_MESSAGE_BYTES in a real Dovecot mailbox: refused and kept whole, but never read whole into memory
// (streamed from the server in partial FETCHes into the blob store). Before, the poller fetched it whole like any
// other: a 137 MB mail took `mesa start` to 428 MB of RSS only to refuse it (docs/performance.md, «Memoria»).

let dovecot: Dovecot;
let world: MailWorld | undefined;
let pollers: ReturnType<typeof startPollers> | undefined;
let app: App | undefined;

beforeAll(async () => {
  dovecot = await startDovecot({ users: ['support'] });
});
afterAll(async () => {
  await dovecot?.stop();
});
afterEach(async () => {
  await pollers?.stop();
  pollers = undefined;
  await world?.close();
  world = undefined;
  await app?.close();
  app = undefined;
});

const LIMIT = 200_000;
const small = (n: number) =>
  mail(
    {
      From: `cliente${n}@empresa.co`,
      To: 'soporte@mesa.test',
      Subject: `Consulta ${n}`,
      'Message-ID': `<pequeno-${n}.${Date.now()}@empresa.co>`,
      Date: 'Mon, 07 Dec 2026 10:00:00 -0500',
    },
    `Buenos días, la consulta ${n}.\r\n`,
  );
/** A log pasted into the mail: about 2 MB of text, ten times the limit. */
const big = () =>
  mail(
    {
      From: 'Pedro Gómez <pedro@empresa.co>',
      To: 'soporte@mesa.test',
      Subject: 'Log completo del servidor',
      'Message-ID': `<grande.${Date.now()}@empresa.co>`,
      Date: 'Mon, 07 Dec 2026 10:01:00 -0500',
    },
    Array.from({ length: 30_000 }, (_, i) => `2026-12-07 10:00:${i} ERROR conciliación fallida en el lote ${i}`).join(
      '\r\n',
    ) + '\r\n',
  );
const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

describe('a mail over MAX_MESSAGE_BYTES in the mailbox', { timeout: 60_000 }, () => {
  it('is refused and kept whole from partial FETCHes, never fetched whole; the mails around it become cases', async () => {
    world = await mailWorld({ ...supportMailboxEnv(dovecot), IMAP_MAILBOX: 'T1', MAX_MESSAGE_BYTES: String(LIMIT) });
    const a = world.app;
    const c = await dovecot.client('support');
    await c.mailboxCreate('T1').catch(() => undefined);
    const raw = big();
    expect(raw.length).toBeGreaterThan(10 * LIMIT);
    const uids: number[] = [];
    for (const m of [small(1), raw, small(2)]) {
      const appended = await c.append('T1', m);
      uids.push(Number(appended && appended.uid));
    }
    await c.logout();
    const bigUid = uids[1];
    // What the poller asks of the real server, and what it hands to the real ingest.
    const wholeFetches: string[] = [];
    const downloads: string[] = [];
    const createClient: typeof createImapClient = (mb, logger) => {
      const client = createImapClient(mb, logger);
      const fetchAll = client.fetchAll.bind(client);
      client.fetchAll = ((range: string, query: { source?: boolean }, opts: unknown) => {
        if (query.source) wholeFetches.push(range);
        return fetchAll(range, query as never, opts as never);
      }) as typeof client.fetchAll;
      const download = client.download.bind(client);
      client.download = ((range: string, part?: string, opts?: object) => {
        downloads.push(range);
        return download(range, part, opts as never);
      }) as typeof client.download;
      return client;
    };
    const handed: Array<{ uid: number; bytes: number; kept?: { sha256: string; size: number } }> = [];
    const observed = observedIngest(a, {
      ingestMany: (items, ingestMany) => {
        for (const it of items)
          if (it.source.kind === 'imap') handed.push({ uid: it.source.uid, bytes: it.raw.length, kept: it.kept });
        return ingestMany(items);
      },
    });
    pollers = startPollers(observed, a.config.mailboxes, { createClient, backoffInitialMs: 100, backoffMaxMs: 800 });
    await waitFor(
      'three mails recorded',
      async () => Number((await a.db('ingest_ledger').count({ n: '*' }))[0].n) === 3,
    );

    // Never fetched whole: no FETCH of whole sources names its UID; it came in partial FETCHes (imapflow's download).
    const covers = (range: string, uid: number) => {
      const [from, to = from] = range.split(':').map(Number);
      return uid >= from && uid <= to;
    };
    expect(wholeFetches.filter((r) => covers(r, bigUid))).toEqual([]);
    expect(downloads).toEqual([String(bigUid)]);
    const handedBig = handed.find((h) => h.uid === bigUid)!;
    expect(handedBig.bytes).toBeLessThanOrEqual(HEADER_SUMMARY_BYTES);
    expect(handedBig.kept).toEqual({ sha256: sha256(raw), size: raw.length });

    // Refused, with its real size and sender, and kept byte for byte for `mesa replay`.
    const [q] = await listQuarantine(a.db);
    expect(q).toMatchObject({ reason: 'too_large', size: raw.length, fromAddress: 'pedro@empresa.co' });
    expect(q.subject).toBe('Log completo del servidor');
    expect(q.detail).toBe(`${raw.length} bytes > MAX_MESSAGE_BYTES ${LIMIT}`);
    expect(sha256(await readOriginal(a.db, a.blobs, q.rawSha256))).toBe(sha256(raw));
    // The mails before and after it are cases, in order.
    expect((await listCases(a.db)).map((t) => t.subject).sort()).toEqual(['Consulta 1', 'Consulta 2']);
    // The sender hears why, in the thread of the mail.
    await waitFor('the polite refusal', async () => world!.sink.to('pedro@empresa.co').length === 1);
    const [refusal] = world.sink.to('pedro@empresa.co');
    expect(refusal.subject).toBe('Re: Log completo del servidor');
    expect(refusal.text).toContain('supera el tamaño máximo que aceptamos');
  });

  it('read whole after all when what was streamed is within the limit (the server counted its size its own way)', async () => {
    app = await testApp({ MAX_MESSAGE_BYTES: String(LIMIT) });
    const raw = small(3);
    const kept = await app.ingest.keepTooLarge(Readable.from([raw.subarray(0, 10), raw.subarray(10)]));
    expect(kept).toMatchObject({ sha256: sha256(raw), size: raw.length });
    const [r] = await app.ingest.ingestMany([
      {
        raw: kept.head,
        kept: { sha256: kept.sha256, size: kept.size },
        source: { kind: 'imap', account: 'support', folder: 'INBOX', uidvalidity: 1, uid: 7 },
      },
    ]);
    expect(r).toMatchObject({ outcome: 'accepted', effect: 'new_case' });
    expect((await listCases(app.db)).map((t) => t.subject)).toEqual(['Consulta 3']);
  });

  it('says the connection failed, not the disk, when the stream breaks; nothing of it is left in the store', async () => {
    app = await testApp({ MAX_MESSAGE_BYTES: String(LIMIT) });
    const dropped = Object.assign(new Error('Connection not available'), { code: 'NoConnection' });
    async function* halfThenGone() {
      yield Buffer.alloc(600_000, 0x61);
      yield Buffer.alloc(600_000, 0x62); // past what is held in memory: a temporary file was started
      throw dropped;
    }
    await expect(app.ingest.keepTooLarge(Readable.from(halfThenGone()))).rejects.toBe(dropped);
    const fs = await import('node:fs');
    const left = fs.readdirSync(app.blobs.root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    expect(left.map((e) => e.name)).toEqual([]);
  });
});
