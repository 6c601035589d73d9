import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory from 'knex';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.ts';
import type { IngestResult } from '../../src/inbound/ingest-types.ts';
import { loadConfig } from '../../src/config.ts';
import { silentLogger } from '../../src/logger.ts';
import { testEnv } from '../support/app.ts';
import { at, consultantReply, customerReply, jobsAt, mail as lifecycleMail } from '../support/lifecycle.ts';
import { waitFor } from '../support/wait.ts';
import type { Knex } from 'knex';
import type { UnitOfWork } from '../../src/db/unit-of-work.ts';
import type { CaseEvent } from '../../src/services/case-events.ts';
import type { MailParser } from '../../src/inbound/parser.ts';
import { heldParser } from '../support/held-parser.ts';
import { BlobStore } from '../../src/storage/blobs.ts';
import { customerMessagesPerCase, freshDatabase, pgReachable } from './support/pg.ts';
import { BUILT_PARSE_WORKER, MESA_BIN } from '../support/built.ts';

// Several instances only make sense on PostgreSQL; these run when the local server (MESA_TEST_PG_URL) answers.
const ROOT = path.resolve(import.meta.dirname, '../..');
const apps: App[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

/** `count` instances (apps, each with its own DATA_DIR) on one fresh PostgreSQL database; closed after the test. */
async function instances(
  name: string,
  count: number,
  env: Record<string, string> = {},
  clock?: () => number,
  parser?: (blobs: BlobStore) => MailParser,
): Promise<App[]> {
  const url = await freshDatabase(name);
  const started: App[] = [];
  for (let i = 0; i < count; i++) {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `${name}-`));
    started.push(
      await createApp(loadConfig(testEnv(dataDir, { DATABASE_URL: url, ...env })), silentLogger, {
        clock,
        parseWorkerUrl: BUILT_PARSE_WORKER,
        parser: parser?.(new BlobStore(path.join(dataDir, 'blobs'))),
      }),
    );
    apps.push(started[i]);
  }
  return started;
}

/** Until some transaction on `db`'s database waits for a lock (a row lock or an advisory lock). */
function untilOneWaitsOnALock(db: Knex, what: string): Promise<unknown> {
  return waitFor(
    what,
    async () =>
      Number(
        (
          await db.raw(
            "select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
          )
        ).rows[0].n,
      ) > 0,
    10_000,
    10,
  );
}

/** A new mail from `who`@ferreteria.co, one organization with an open-case limit in the tests below. */
const ferreteria = (who: string) =>
  lifecycleMail(
    {
      From: `${who}@ferreteria.co`,
      To: 'soporte@mesa.test',
      Subject: `Consulta ${who}`,
      'Message-ID': `<o-${who}@ferreteria.co>`,
    },
    `Consulta de ${who}.`,
  );

/**
 * The first time `a` opens a case (inside its transaction, not yet committed), starts `other` and holds `a` there
 * until some transaction waits on a lock, or `other` is done (were nothing to wait for). Returns `other`'s result.
 */
function whileOpeningACase(a: App, other: () => Promise<IngestResult>): () => Promise<IngestResult> | undefined {
  let started: Promise<IngestResult> | undefined;
  a.cases.addNotifier({
    async onCaseEvent(_uow: UnitOfWork, e: CaseEvent) {
      if (e.type !== 'case_opened' || started) return;
      started = other();
      await Promise.race([untilOneWaitsOnALock(a.db, 'el otro correo esperando su turno'), started]);
    },
  });
  return () => started;
}

const mail = (i: number) =>
  Buffer.from(
    `From: Persona ${i} <p${i}@org${i % 7}.co>\r\nTo: soporte@mesa.test\r\nSubject: Problema ${i}\r\nMessage-ID: <scale-${i}@x>\r\n` +
      `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nNo funciona el módulo ${i}.\r\n`,
    'utf8',
  );

function runMigrate(databaseUrl: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-mig-'));
    const child = spawn(process.execPath, [MESA_BIN, 'migrate'], {
      cwd: ROOT,
      env: { ...process.env, ...testEnv(dataDir), DATABASE_URL: databaseUrl },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

describe.runIf(await pgReachable())('several instances on one PostgreSQL', () => {
  it('migrates an empty database from three processes started at once, each migration applied once', async () => {
    const url = await freshDatabase('mesa_mig');
    const runs = await Promise.all([runMigrate(url), runMigrate(url), runMigrate(url)]);
    expect(
      runs.map((r) => r.code),
      runs.map((r) => r.stderr).join('\n'),
    ).toEqual([0, 0, 0]);
    const db = knexFactory({ client: 'pg', connection: url });
    try {
      const names = (await db('knex_migrations').select('name')).map((r: any) => r.name);
      const files = fs
        .readdirSync(path.join(ROOT, 'migrations'))
        .filter((f) => /^\d+_.+\.ts$/.test(f))
        .map((f) => f.replace(/\.ts$/, ''));
      expect(names.sort()).toEqual(files.sort());
      expect(await db.schema.hasTable('leases')).toBe(true);
    } finally {
      await db.destroy();
    }
  });

  it('keeps case numbers consecutive, with no duplicate, when three instances ingest at once', async () => {
    const three = await instances('mesa_num', 3);
    const N = 90;
    // Each instance works like a poller would: a few mails in flight, a tempfail (pool exhausted on a loaded
    // machine) retried. Twelve transactions at once race for the counter row.
    const lanes = (make: (i: number) => Promise<IngestResult>) =>
      Promise.all(
        Array.from({ length: 12 }, async (_, lane) => {
          const out: IngestResult[] = [];
          for (let i = lane; i < N; i += 12) {
            let r = await make(i);
            for (let attempt = 0; r.outcome === 'tempfail' && attempt < 5; attempt++) r = await make(i);
            out.push(r);
          }
          return out;
        }),
      ).then((l) => l.flat());
    const results = await lanes((i) => three[i % 3].ingest.ingest(mail(i), { kind: 'stdin' }));
    expect(results.filter((r) => r.outcome !== 'accepted')).toEqual([]);
    const numbers = (await three[0].db('tickets').select('number'))
      .map((r: any) => Number(r.number))
      .sort((a, b) => a - b);
    expect(numbers).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    // The same mails again as other deliveries, through other instances at once: each is a duplicate, none opens.
    const again = await lanes((i) =>
      three[(i + 1) % 3].ingest.ingest(mail(i), {
        kind: 'imap',
        account: 'support',
        folder: 'INBOX',
        uidvalidity: 1,
        uid: i + 1,
      }),
    );
    expect(again.map((r) => r.outcome)).toEqual(Array(N).fill('ignored'));
    expect(Number((await three[0].db('tickets').count({ n: '*' }))[0].n)).toBe(N);
  });

  it('runs the clock-driven jobs on two instances at the same moment, and each case is warned, closed and changes light once', async () => {
    let now = at('2026-11-23T08:00');
    const [a, b] = await instances(
      'mesa_jobs',
      2,
      { HOLIDAYS_COUNTRY: 'CO', TRUSTED_AUTHSERV_IDS: 'mx.mesa.test' },
      () => now,
    );
    const N = 12;
    for (let i = 0; i < N; i++) await a.ingest.ingest(mail(i), { kind: 'stdin' });
    now = at('2026-11-23T10:00');
    for (let i = 1; i <= N; i++) {
      expect(
        await b.ingest.ingest(consultantReply('beto@mesa.test', i, `r${i}@mesa.test`, 'Pruebe ahora, por favor.'), {
          kind: 'stdin',
        }),
      ).toMatchObject({ effect: 'follow_up' });
    }
    // Every instance runs the jobs on its own timer; started together, their ticks stay together.
    const both = (local: string) => Promise.all([jobsAt(a, local), jobsAt(b, local)]);
    const digested: string[] = [];
    for (const local of ['2026-11-23T14:00', '2026-11-24T10:00', '2026-11-24T16:00', '2026-11-25T10:00']) {
      const [ra, rb] = await both(local);
      expect([...ra.errors, ...rb.errors]).toEqual([]);
      digested.push(...ra.digests, ...rb.digests);
    }
    const counts = async (type: string) =>
      (await a.db('events').where({ type }).select('ticket_id').count({ n: '*' }).groupBy('ticket_id')).map((r: any) =>
        Number(r.n),
      );
    expect(await counts('autoclose_warning')).toEqual(Array(N).fill(1));
    expect((await a.db('events').where({ type: 'stage_changed', to_value: 'cerrado' }).count({ n: '*' }))[0].n).toBe(
      String(N),
    );
    // Each case's light changes form one chain (each starts where the one before ended, and changes something):
    // a change recorded twice would start where it ends.
    const lights = await a
      .db('events')
      .where({ type: 'sla_changed' })
      .orderBy('id')
      .select('ticket_id', 'from_value', 'to_value');
    const chains = new Map<number, Array<string | null>>();
    for (const l of lights) {
      const chain = chains.get(Number(l.ticket_id)) ?? [null];
      expect([l.from_value, l.from_value === l.to_value]).toEqual([chain.at(-1), false]);
      chains.set(Number(l.ticket_id), [...chain, l.to_value]);
    }
    expect(chains.size).toBe(N);
    // One warning and one closing notice per customer in the outbox: no mail twice.
    const notices = await a.db('outbox').whereIn('kind', ['autoclose_warning', 'closed']).select('recipient', 'kind');
    expect(notices.length).toBe(2 * N);
    expect(new Set(notices.map((o: any) => `${o.kind}:${o.recipient}`)).size).toBe(2 * N);
    // And each consultant's morning digest once a business morning: Monday and Tuesday (by Wednesday's run at 10:00
    // every case was closed, and with nothing open there is no digest).
    const digests = await a.db('outbox').where({ kind: 'digest' }).select('recipient', 'idempotency_key');
    expect(digested.sort()).toEqual(['ana@mesa.test', 'ana@mesa.test', 'beto@mesa.test', 'beto@mesa.test']);
    expect(digests.map((d: any) => d.idempotency_key).sort()).toEqual(
      ['ana@mesa.test', 'beto@mesa.test']
        .flatMap((c) => ['2026-11-23', '2026-11-24'].map((d) => `digest:${c}:${d}`))
        .sort(),
    );
  });

  it('a customer reply that arrives while the jobs are closing its case waits for them, then reopens the case', async () => {
    let now = at('2026-11-23T08:00');
    const [app] = await instances(
      'mesa_lock',
      1,
      { HOLIDAYS_COUNTRY: 'CO', TRUSTED_AUTHSERV_IDS: 'mx.mesa.test' },
      () => now,
    );
    await app.ingest.ingest(
      lifecycleMail(
        {
          From: 'ana@cliente.co',
          To: 'soporte@mesa.test',
          Subject: 'BANCOS, conciliación',
          'Message-ID': '<k1@cliente.co>',
        },
        'No concilia.',
      ),
      { kind: 'stdin' },
    );
    now = at('2026-11-23T10:00');
    await app.ingest.ingest(consultantReply('beto@mesa.test', 1, 'k2@mesa.test', 'Pruebe ahora, por favor.'), {
      kind: 'stdin',
    });
    expect((await jobsAt(app, '2026-11-24T10:00')).warned).toEqual([1]);
    now = at('2026-11-25T10:00');
    // The customer's reply comes in while the auto-close is inside its transaction (the case closed, not committed
    // yet): it is let go on only once it is waiting on the case's lock.
    // A proven reply (DMARC passed at our receiving server): only such a reply may reopen a case.
    const reply = customerReply('ana@cliente.co', 1, 'BANCOS, conciliación', 'k3@cliente.co', 'Sigue sin conciliar.');
    let replied: ReturnType<typeof app.ingest.ingest> | undefined;
    app.cases.addNotifier({
      async onCaseEvent(_uow: UnitOfWork, e: CaseEvent) {
        if (e.type !== 'stage_changed' || e.to !== 'cerrado' || replied) return;
        replied = app.ingest.ingest(reply, { kind: 'stdin' });
        await untilOneWaitsOnALock(app.db, 'la respuesta esperando el bloqueo del caso');
      },
    });
    expect((await jobsAt(app, '2026-11-25T10:00')).closed).toEqual([1]);
    expect(await replied).toMatchObject({ outcome: 'accepted', effect: 'follow_up', ticketNumber: 1 });
    const t = await app.db('tickets').first();
    expect(t.stage).not.toBe('cerrado');
    const stages = await app.db('events').where({ type: 'stage_changed' }).orderBy('id').select('to_value');
    expect(stages.map((e: any) => e.to_value)).toEqual(['cerrado', 'reabierto']);
  });

  it('two instances whose batches lock the same two cases in opposite order: PostgreSQL breaks the deadlock, the losing batch runs again at once, no mail is quarantined', async () => {
    // Each batch's second mail is handed over only once both batches hold their first case: ready before its turn,
    // the thread look-up would read it ahead with the first and lock both cases in id order (no deadlock to break).
    let arrived = 0;
    let release!: () => void;
    const both = new Promise<void>((r) => (release = r));
    let armed = false;
    const secondLate = (blobs: BlobStore) => {
      let sinceArmed = 0;
      return heldParser(blobs, (_call, parsed) => (!armed || sinceArmed++ === 0 ? parsed : both.then(() => parsed)));
    };
    const [a, b] = await instances('mesa_dead', 2, {}, undefined, secondLate);
    const open = (n: number) =>
      lifecycleMail(
        { From: `cliente${n}@org.co`, To: 'soporte@mesa.test', Subject: `Falla ${n}`, 'Message-ID': `<d${n}@org.co>` },
        `Falla ${n}.`,
      );
    const reply = (n: number, k: string) => ({
      raw: lifecycleMail(
        {
          From: `cliente${n}@org.co`,
          To: 'soporte@mesa.test',
          Subject: `RE: [Caso #${n}] Falla ${n}`,
          'Message-ID': `<d${n}-${k}@org.co>`,
        },
        `Más datos (${k}).`,
      ),
      source: { kind: 'stdin' as const },
    });
    await a.ingest.ingest(open(1), { kind: 'stdin' });
    await a.ingest.ingest(open(2), { kind: 'stdin' });
    // Each batch holds its first case until the other batch holds its own: then each wants the other's.
    let added = 0;
    for (const app of [a, b]) {
      let first = true;
      app.cases.addNotifier({
        async onCaseEvent(_uow: UnitOfWork, e: CaseEvent) {
          if (e.type === 'message_added') added++;
          if (e.type !== 'message_added' || !first) return;
          first = false;
          if (++arrived === 2) release();
          await both;
        },
      });
    }
    const batchA = [reply(1, 'a'), reply(2, 'a')];
    const batchB = [reply(2, 'b'), reply(1, 'b')];
    armed = true;
    const [ra, rb] = await Promise.all([a.ingest.ingestMany(batchA), b.ingest.ingestMany(batchB)]);
    // PostgreSQL refused one batch whole (deadlock_detected) after its first mail, nothing of it recorded; that batch
    // ran again at once (its two mails once more) and went in: no tempfail for the poller, or an MTA's `mesa ingest -`,
    // to retry minutes later.
    expect(added).toBe(2 + 1 + 2);
    expect([ra, rb].map((r) => r.map((x) => x.outcome).join(','))).toEqual(['accepted,accepted', 'accepted,accepted']);
    expect(Number((await a.db('quarantine').count({ n: '*' }))[0].n)).toBe(0);
    expect(await customerMessagesPerCase(a.db)).toEqual([3, 3]);
  });

  it('two instances opening cases for one organization at its open-case limit count in turn: the second mail is held, not a case over the limit', async () => {
    const [a, b] = await instances('mesa_orgl', 2, { MAX_OPEN_CASES_PER_ORG: '1' });
    // A's case is opened but not committed when B's mail from the same organization comes in; A commits only once
    // B is waiting on a lock.
    const second = whileOpeningACase(a, () => b.ingest.ingest(ferreteria('beto'), { kind: 'stdin' }));
    expect(await a.ingest.ingest(ferreteria('ana'), { kind: 'stdin' })).toMatchObject({
      outcome: 'accepted',
      effect: 'new_case',
    });
    expect(await second()).toMatchObject({ outcome: 'accepted', effect: 'held', reason: 'over_limit' });
    expect(Number((await a.db('tickets').whereNot({ stage: 'cerrado' }).count({ n: '*' }))[0].n)).toBe(1);
  });

  it('a held request released by the jobs while another instance takes a new mail from the same organization: they count in turn, one case open', async () => {
    let now = at('2026-11-23T08:00');
    const [a, b] = await instances(
      'mesa_orgr',
      2,
      { MAX_OPEN_CASES_PER_ORG: '1', HELD_REQUESTS_AUTO_OPEN: 'true', TRUSTED_AUTHSERV_IDS: 'mx.mesa.test' },
      () => now,
    );
    expect(await a.ingest.ingest(ferreteria('ana'), { kind: 'stdin' })).toMatchObject({ effect: 'new_case' });
    expect(await a.ingest.ingest(ferreteria('beto'), { kind: 'stdin' })).toMatchObject({
      effect: 'held',
      reason: 'over_limit',
    });
    now = at('2026-11-23T10:00');
    expect(
      await a.ingest.ingest(consultantReply('ana@mesa.test', 1, 'cierre-1@mesa.test', '/cerrar\n\nResuelto.'), {
        kind: 'stdin',
      }),
    ).toMatchObject({ effect: 'follow_up' });
    expect((await a.db('tickets').where({ number: 1 }).first()).stage).toBe('cerrado');
    // A's jobs open Beto's held request as a case; before they commit, Carla's new mail reaches B. A commits once B
    // waits on a lock (or, were the release not to take the organization's turn, once B is done).
    const third = whileOpeningACase(a, () => b.ingest.ingest(ferreteria('carla'), { kind: 'stdin' }));
    const report = await jobsAt(a, '2026-11-23T11:00');
    expect(report.errors).toEqual([]);
    expect(report.released).toHaveLength(1);
    expect(await third()).toMatchObject({ outcome: 'accepted', effect: 'held', reason: 'over_limit' });
    expect(await a.db('tickets').whereNot({ stage: 'cerrado' }).select('requester')).toEqual([
      { requester: 'beto@ferreteria.co' },
    ]);
  });
});
