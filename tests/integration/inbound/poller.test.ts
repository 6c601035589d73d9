import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { App } from '../../../src/app.ts';
import { getMailboxState } from '../../../src/db/repos/mailbox-state.ts';
import { createImapClient } from '../../../src/inbound/imap-client.ts';
import { startPollers } from '../../../src/inbound/readers.ts';
import { caseDetail, listCases } from '../../../src/services/case-view.ts';
import { testApp } from '../../support/app.ts';
import { startDovecot, type Dovecot } from '../../support/dovecot.ts';
import { waitFor } from '../../support/wait.ts';
import { observedIngest } from '../../support/observed-ingest.ts';
import { mail as plainMail, mailWithAttachment } from '../../support/mail.ts';

// Real Dovecot, real database (SQLite file, or PostgreSQL with MESA_TEST_DATABASE=postgres). Each test reads its
// own folders, so the tests share one server without seeing each other's mail. IMAP_POLL_SECONDS is long: mail
// that shows up within the deadlines was announced by IDLE, not found by the interval.

let dovecot: Dovecot;
let app: App | undefined;
let pollers: ReturnType<typeof startPollers> | undefined;

beforeAll(async () => {
  dovecot = await startDovecot();
});
afterAll(async () => {
  await dovecot?.stop();
});
afterEach(async () => {
  await pollers?.stop();
  pollers = undefined;
  await app?.close();
  app = undefined;
});

let seq = 0;
function mail(o: {
  from: string;
  subject: string;
  body?: string;
  id?: string;
  inReplyTo?: string;
  to?: string;
  attachment?: boolean;
}): string {
  const headers: Record<string, string> = {
    From: o.from,
    To: o.to ?? 'soporte@mesa.test',
    Subject: o.subject,
    'Message-ID': `<${o.id ?? `m${++seq}.${Date.now()}@cliente.co`}>`,
    Date: 'Mon, 23 Nov 2026 10:00:00 -0500',
    ...(o.inReplyTo ? { 'In-Reply-To': `<${o.inReplyTo}>`, References: `<${o.inReplyTo}>` } : {}),
  };
  const body = o.body ?? `Buenos días, ${o.subject.toLowerCase()}.`;
  return (o.attachment ? mailWithAttachment(headers, body) : plainMail(headers, `${body}\r\n`)).toString('utf8');
}

function imapEnv(folder: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    IMAP_HOST: dovecot.host,
    IMAP_PORT: String(dovecot.port),
    IMAP_SECURE: 'false',
    IMAP_USER: 'support',
    IMAP_PASSWORD: dovecot.users.support.password,
    IMAP_MAILBOX: folder,
    IMAP_POLL_SECONDS: '120',
    ...extra,
  };
}

function fallbackEnv(folder: string, password = dovecot.users.fallback.password): Record<string, string> {
  return {
    FALLBACK_IMAP_HOST: dovecot.host,
    FALLBACK_IMAP_PORT: String(dovecot.port),
    FALLBACK_IMAP_SECURE: 'false',
    FALLBACK_IMAP_USER: 'fallback',
    FALLBACK_IMAP_PASSWORD: password,
    FALLBACK_IMAP_MAILBOX: folder,
  };
}

async function createFolder(user: string, folder: string) {
  const c = await dovecot.client(user);
  await c.mailboxCreate(folder).catch(() => undefined);
  await c.logout();
}

async function folderUids(user: string, folder: string): Promise<{ uid: number; seen: boolean }[]> {
  const c = await dovecot.client(user);
  try {
    const box = await c.mailboxOpen(folder, { readOnly: true });
    if (box.exists === 0) return [];
    const out: { uid: number; seen: boolean }[] = [];
    for await (const m of c.fetch('1:*', { uid: true, flags: true }))
      out.push({ uid: m.uid, seen: m.flags?.has('\\Seen') ?? false });
    return out;
  } finally {
    await c.logout();
  }
}

const run = (a: App) => (pollers = startPollers(a, a.config.mailboxes, { backoffInitialMs: 100, backoffMaxMs: 800 }));
const ledgerCount = async (a: App) => Number((await a.db('ingest_ledger').count({ n: '*' }))[0].n);
// last_uid is written after a batch's commit, so a test that has seen the batch's rows waits for it too.
const stateAtUid = (a: App, key: string, uid: number) =>
  waitFor(`last_uid ${uid} in ${key}`, async () => {
    const s = await getMailboxState(a.db, key);
    return s?.lastUid === uid && s.lastSuccessAt ? s : undefined;
  });

describe('IMAP poller against a real Dovecot', () => {
  it('turns appended mails into cases, threads a follow-up, and never sets \\Seen', async () => {
    await createFolder('support', 'T1');
    app = await testApp(imapEnv('T1'));
    await dovecot.append(
      'support',
      mail({ from: 'Juan Pérez <juan@cliente.co>', subject: 'No carga la factura', id: 'fact-1@cliente.co' }),
      'T1',
    );
    await dovecot.append('support', mail({ from: 'maria@otra.co', subject: 'Error al exportar' }), 'T1');
    run(app);
    await waitFor('two cases', async () => (await listCases(app!.db)).length === 2);

    // Arrives while the poller is idle: IDLE must announce it.
    await dovecot.append(
      'support',
      mail({
        from: 'juan@cliente.co',
        subject: 'RE: No carga la factura',
        inReplyTo: 'fact-1@cliente.co',
        body: 'Sigue sin cargar.\r\n\r\nEl lun, 23 nov 2026, Soporte escribió:\r\n> ¿Puede enviar una captura?',
      }),
      'T1',
    );
    await waitFor('the follow-up', async () => (await caseDetail(app!.db, 1))?.messages.length === 2, 10_000);

    const detail = (await caseDetail(app.db, 1))!;
    expect(detail.subject).toBe('No carga la factura');
    expect(detail.messages.map((m) => m.bodyText)).toEqual(['Buenos días, no carga la factura.', 'Sigue sin cargar.']);
    expect((await listCases(app.db)).length).toBe(2);
    const state = await stateAtUid(app, 'support:T1', 3);
    expect(state.lastUid).toBe(3);
    expect(state.lastSuccessAt).toBeGreaterThan(0);
    expect(state.lastError).toBeUndefined();
    // People read the support mailbox too: the poller must leave \Seen alone (BODY.PEEK).
    expect((await folderUids('support', 'T1')).map((m) => m.seen)).toEqual([false, false, false]);
  });

  it('gives one effect when the same mail reaches both the support and the fallback mailbox', async () => {
    await createFolder('support', 'T2');
    await createFolder('fallback', 'T2');
    app = await testApp({ ...imapEnv('T2'), ...fallbackEnv('T2') });
    const raw = mail({
      from: 'luis@cliente.co',
      subject: 'No puedo entrar',
      to: 'soporte@mesa.test, acceso@mesa.test',
    });
    await dovecot.append('support', raw, 'T2');
    await dovecot.append('fallback', raw, 'T2');
    run(app);
    await waitFor('both mailboxes read', async () => (await ledgerCount(app!)) === 2);
    const ledger = await app.db('ingest_ledger').orderBy('mailbox');
    expect(ledger.map((r) => r.mailbox)).toEqual(['fallback:T2', 'support:T2']);
    expect(ledger.map((r) => r.outcome).sort()).toEqual(['accepted', 'ignored']);
    expect(ledger.find((r) => r.outcome === 'ignored').reason).toBe('duplicate');
    const cases = await listCases(app.db);
    expect(cases.length).toBe(1);
    expect((await caseDetail(app.db, cases[0].number))!.messages.length).toBe(1);
  });

  it('keeps reading the support mailbox while the fallback account has a bad password', async () => {
    await createFolder('support', 'T3');
    app = await testApp({ ...imapEnv('T3'), ...fallbackEnv('INBOX', 'contraseña-equivocada') });
    run(app);
    await dovecot.append('support', mail({ from: 'ana@cliente.co', subject: 'Consulta de saldo' }), 'T3');
    await waitFor('the support case', async () => (await listCases(app!.db)).length === 1);
    // The fallback loop keeps failing, says why, and retries with backoff (Dovecot adds its own ~4 s auth penalty
    // to each repeated failure, hence only two attempts are awaited).
    const fb = await waitFor('fallback retried', async () => {
      const s = await getMailboxState(app!.db, 'fallback:INBOX');
      return s && s.errorCount >= 2 ? s : undefined;
    });
    expect(fb.lastError).toMatch(/credenciales|AUTHENTICATIONFAILED|Authentication failed/i);
    expect(fb.lastSuccessAt).toBeUndefined();
    await dovecot.append('support', mail({ from: 'ana@cliente.co', subject: 'Otra consulta' }), 'T3');
    await waitFor(
      'a second support case despite the failing fallback',
      async () => (await listCases(app!.db)).length === 2,
      10_000,
    );
    expect((await getMailboxState(app.db, 'support:T3'))!.lastError).toBeUndefined();
  });

  it('says a configured folder that does not exist is missing, names its key, and reads it once created', async () => {
    app = await testApp({ ...imapEnv('NoExiste'), ...fallbackEnv('TambienFalta') });
    run(app);
    const recorded = (key: string) => async () => {
      const state = await getMailboxState(app!.db, key);
      return state?.lastError ? state : undefined;
    };
    const support = await waitFor('the missing folder recorded', recorded('support:NoExiste'));
    expect(support.lastError).toMatch(
      /^La carpeta que Mesa debe leer no existe en el servidor IMAP: «NoExiste» \(revise IMAP_MAILBOX\)/,
    );
    expect(support.lastError).not.toMatch(/no está disponible/);
    const fallback = await waitFor('the fallback one too', recorded('fallback:TambienFalta'));
    expect(fallback.lastError).toMatch(/«TambienFalta» \(revise FALLBACK_IMAP_MAILBOX\)/);
    // Retried: once someone creates the folder, its mail comes in.
    await createFolder('support', 'NoExiste');
    await dovecot.append('support', mail({ from: 'ana@cliente.co', subject: 'Carpeta creada' }), 'NoExiste');
    await waitFor('the case from the folder once created', async () => (await listCases(app!.db)).length === 1);
    // The round that read it ends by clearing the error (after the mail's case, hence awaited).
    await waitFor(
      'the error cleared',
      async () => (await getMailboxState(app!.db, 'support:NoExiste'))?.lastError === undefined,
    );
  });

  it('reconnects after the server goes down and catches up with the mail that arrived meanwhile', async () => {
    await createFolder('support', 'T4');
    app = await testApp(imapEnv('T4'));
    run(app);
    await dovecot.append('support', mail({ from: 'pedro@cliente.co', subject: 'Antes de la caída' }), 'T4');
    await waitFor('first case', async () => (await listCases(app!.db)).length === 1);
    const a = app;
    await dovecot.restart(async () => {
      // While Dovecot is down the poller records the failure instead of dying.
      await waitFor('the outage recorded', async () => (await getMailboxState(a.db, 'support:T4'))?.lastError);
    });
    // Appended as soon as the server is back, possibly before the poller reconnects: it must catch up either way.
    await dovecot.append('support', mail({ from: 'pedro@cliente.co', subject: 'Después de la caída' }), 'T4');
    await dovecot.append('support', mail({ from: 'rosa@cliente.co', subject: 'También después' }), 'T4');
    await waitFor('caught up after the restart', async () => (await listCases(a.db)).length === 3, 20_000);
    await waitFor(
      'error cleared by a good round',
      async () => (await getMailboxState(a.db, 'support:T4'))?.lastError === undefined,
    );
    expect((await listCases(a.db)).map((c) => c.subject).sort()).toEqual([
      'Antes de la caída',
      'Después de la caída',
      'También después',
    ]);
  });

  it('moves a mail to the processed folder only after its effect committed, and not at all on tempfail', async () => {
    await createFolder('support', 'T5');
    app = await testApp(imapEnv('T5', { IMAP_PROCESSED_FOLDER: 'T5-procesados' }));
    const a = app;
    // Real disk trouble: DATA_DIR/blobs is a file, so storing the attachment fails (STORAGE_FAILED, retryable).
    const blobs = path.join(a.config.dataDir, 'blobs');
    fs.writeFileSync(blobs, 'no es una carpeta');
    // Observe (not replace) the real ingest: when it returns, the mail must still be in the inbox.
    const stillThereAfterIngest: boolean[] = [];
    const observed = observedIngest(a, {
      ingestMany: async (items, ingestMany) => {
        const r = await ingestMany(items);
        const uids = items.map((it) => (it.source.kind === 'imap' ? it.source.uid : -1));
        const inbox = (await folderUids('support', 'T5')).map((m) => m.uid);
        stillThereAfterIngest.push(uids.every((uid) => inbox.includes(uid)));
        return r;
      },
    });
    pollers = startPollers(observed, a.config.mailboxes, { backoffInitialMs: 150, backoffMaxMs: 600 });
    await dovecot.append(
      'support',
      mail({ from: 'sofia@cliente.co', subject: 'Adjunto el contrato', attachment: true }),
      'T5',
    );

    const failing = await waitFor('tempfail recorded', async () => {
      const s = await getMailboxState(a.db, 'support:T5');
      return s && s.errorCount >= 2 ? s : undefined;
    });
    expect(failing.lastError).toMatch(/pendiente/);
    expect(failing.lastUid).toBe(0);
    expect(await ledgerCount(a)).toBe(0);
    expect((await folderUids('support', 'T5')).length).toBe(1);

    fs.rmSync(blobs);
    fs.mkdirSync(blobs);
    await waitFor('moved after the retry succeeded', async () => (await folderUids('support', 'T5')).length === 0);
    expect((await folderUids('support', 'T5-procesados')).length).toBe(1);
    expect((await listCases(a.db)).length).toBe(1);
    expect(await ledgerCount(a)).toBe(1);
    expect(stillThereAfterIngest.length).toBeGreaterThanOrEqual(3);
    expect(stillThereAfterIngest.every(Boolean)).toBe(true);
    expect((await getMailboxState(a.db, 'support:T5'))!.lastError).toBeUndefined();
  });

  it('reads the next batch from the server while the current one is ingested, and still ingests in UID order', async () => {
    await createFolder('support', 'T7');
    app = await testApp(imapEnv('T7'));
    const a = app;
    const c = await dovecot.client('support');
    for (let i = 1; i <= 60; i++)
      await c.append('T7', mail({ from: `cliente${i}@org${i}.co`, subject: `Consulta ${i}` })); // two batches of at most 50 (batchCount below)
    await c.logout();
    // Every FETCH of sources the poller sends, by range, observed on the real client.
    const sourceFetches: string[] = [];
    const createClient: typeof createImapClient = (mb, logger) => {
      const client = createImapClient(mb, logger);
      const fetchAll = client.fetchAll.bind(client);
      client.fetchAll = ((range: string, query: { source?: boolean }, opts: unknown) => {
        if (query.source) sourceFetches.push(range);
        return fetchAll(range, query as never, opts as never);
      }) as typeof client.fetchAll;
      return client;
    };
    const ingested: number[][] = [];
    let fetchesWhileFirstBatchIngested = 0;
    // What is handed to the parse thread ahead (IngestService.parseAhead): each batch's sources, in order.
    const parsedAhead: string[][] = [];
    let parsedAheadWhileFirstBatchIngested = 0;
    const parse = vi.spyOn(a.ingest.parser, 'parse');
    const subjects = (raws: readonly Buffer[]) => raws.map((r) => /Subject: (.*)\r\n/.exec(r.toString())![1]);
    const observed = observedIngest(a, {
      parseAhead: (raws, parseAhead) => {
        parsedAhead.push(subjects(raws));
        parseAhead(raws);
      },
      ingestMany: async (items, ingestMany) => {
        const uids = items.map((it) => (it.source.kind === 'imap' ? it.source.uid : -1));
        if (ingested.length === 0) {
          // The first batch waits here until the second one has been asked for and handed to the parse thread:
          // that is the overlap.
          await waitFor('the second batch requested', async () => sourceFetches.length >= 2);
          fetchesWhileFirstBatchIngested = sourceFetches.length;
          await waitFor('the second batch parsed ahead', async () => parsedAhead.length >= 2);
          parsedAheadWhileFirstBatchIngested = parsedAhead.length;
        }
        ingested.push(uids);
        return ingestMany(items);
      },
    });
    pollers = startPollers(observed, a.config.mailboxes, { createClient, batchCount: 50 });
    await waitFor('sixty cases', async () => (await ledgerCount(a)) === 60, 20_000);
    expect(fetchesWhileFirstBatchIngested).toBe(2);
    expect(sourceFetches).toEqual(['1:50', '51:60']);
    expect(parsedAheadWhileFirstBatchIngested).toBe(2);
    // The first batch, then the second as soon as it arrived; offered again in its own turn, it is not parsed twice.
    expect(parsedAhead.slice(0, 2)).toEqual([
      Array.from({ length: 50 }, (_, i) => `Consulta ${i + 1}`),
      Array.from({ length: 10 }, (_, i) => `Consulta ${i + 51}`),
    ]);
    expect(parse).toHaveBeenCalledTimes(60);
    expect(ingested.flat()).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect((await listCases(a.db)).map((t) => t.number).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 60 }, (_, i) => i + 1),
    );
    expect((await stateAtUid(a, 'support:T7', 60)).lastUid).toBe(60);
  });

  it('reads the first batch of the next run of sizes while the last batch of a run is ingested', async () => {
    await createFolder('support', 'T8');
    app = await testApp(imapEnv('T8'));
    const a = app;
    const c = await dovecot.client('support');
    for (let i = 1; i <= 60; i++)
      await c.append('T8', mail({ from: `cliente${i}@org${i}.co`, subject: `Consulta ${i}` }));
    await c.logout();
    // Sizes are asked 30 UIDs at a time and batches hold 20: runs 1-30 and 31-60, batches 1:20, 21:30, 31:50, 51:60.
    const fetches: string[] = [];
    const createClient: typeof createImapClient = (mb, logger) => {
      const client = createImapClient(mb, logger);
      const fetchAll = client.fetchAll.bind(client);
      client.fetchAll = ((range: string, query: { source?: boolean; size?: boolean }, opts: unknown) => {
        fetches.push(`${query.source ? 'source' : 'size'} ${range}`);
        return fetchAll(range, query as never, opts as never);
      }) as typeof client.fetchAll;
      return client;
    };
    let askedWhileLastOfRunIngested: string[] = [];
    const observed = observedIngest(a, {
      ingestMany: async (items, ingestMany) => {
        const first = items[0].source.kind === 'imap' ? items[0].source.uid : -1;
        if (first === 21) {
          // The batch 21:30 ends the first run: the next run's sizes and its first batch are asked meanwhile.
          await waitFor('the next run read ahead', async () => fetches.includes('source 31:50'));
          askedWhileLastOfRunIngested = [...fetches];
        }
        return ingestMany(items);
      },
    });
    pollers = startPollers(observed, a.config.mailboxes, { createClient, batchCount: 20, sizeChunk: 30 });
    await waitFor('sixty cases', async () => (await ledgerCount(a)) === 60, 20_000);
    expect(askedWhileLastOfRunIngested).toEqual([
      'size 1:30',
      'source 1:20',
      'source 21:30',
      'size 31:60',
      'source 31:50',
    ]);
    expect(fetches).toEqual(['size 1:30', 'source 1:20', 'source 21:30', 'size 31:60', 'source 31:50', 'source 51:60']);
    expect((await listCases(a.db)).map((t) => t.number).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 60 }, (_, i) => i + 1),
    );
    expect((await stateAtUid(a, 'support:T8', 60)).lastUid).toBe(60);
  });

  it('re-reads a mailbox whose UIDVALIDITY changed without duplicating anything', async () => {
    await createFolder('support', 'T6');
    // An IDLE on a mailbox that is then deleted hears nothing about its successor (Dovecot watches the old
    // directory), so here the poll interval is what notices the recreated folder.
    app = await testApp(imapEnv('T6', { IMAP_POLL_SECONDS: '1' }));
    const a = app;
    const raws = [1, 2, 3].map((i) => mail({ from: `cliente${i}@org${i}.co`, subject: `Problema ${i}` }));
    for (const raw of raws) await dovecot.append('support', raw, 'T6');
    run(a);
    await waitFor('three cases', async () => (await listCases(a.db)).length === 3);
    const before = (await getMailboxState(a.db, 'support:T6'))!;

    // Recreating the folder gives it a new UIDVALIDITY (RFC 3501 §2.3.1.1); the same mails come back with UIDs 1..3.
    const c = await dovecot.client('support');
    await c.mailboxDelete('T6');
    await c.mailboxCreate('T6');
    await c.logout();
    for (const raw of raws) await dovecot.append('support', raw, 'T6');
    await dovecot.append('support', mail({ from: 'nuevo@org9.co', subject: 'Problema nuevo' }), 'T6');

    await waitFor('the new mailbox read', async () => (await ledgerCount(a)) === 7, 20_000);
    const after = await stateAtUid(a, 'support:T6', 4);
    expect(after.uidvalidity).not.toBe(before.uidvalidity);
    expect(after.lastUid).toBe(4);
    const reread = await a.db('ingest_ledger').where({ uidvalidity: after.uidvalidity }).orderBy('uid');
    expect(reread.map((r) => [Number(r.uid), r.outcome, r.reason ?? null])).toEqual([
      [1, 'ignored', 'duplicate'],
      [2, 'ignored', 'duplicate'],
      [3, 'ignored', 'duplicate'],
      [4, 'accepted', null],
    ]);
    expect((await listCases(a.db)).length).toBe(4);
    expect(Number((await a.db('messages').count({ n: '*' }))[0].n)).toBe(4);
  });
});
