import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../../src/app.ts';
import { onStatements } from '../../../src/db/storage.ts';
import type { IngestResult } from '../../../src/inbound/ingest-types.ts';
import type { MailParser } from '../../../src/inbound/parser.ts';
import { silentLogger } from '../../../src/logger.ts';
import { BlobStore } from '../../../src/storage/blobs.ts';
import { BUILT_PARSE_WORKER } from '../../support/built.ts';
import { wholeBatchParser } from '../../support/held-parser.ts';
import { testConfig } from '../../support/app.ts';
import { imapSource } from '../../support/ingest-batches.ts';
import { consultantReply, mail } from '../../support/lifecycle.ts';

/**
 * The thread look-up read ahead for a batch (src/db/repos/threads-ahead.ts, lookAheadThreads): the cases the ready
 * mails name, by Message-ID and by case number, read (and on PostgreSQL locked) in one statement; a mail whose case
 * an earlier mail of the batch changed, or whose ids or number the batch recorded since, reads again. Each mail
 * must land where it lands when every mail is its own batch.
 */
const apps: App[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});

const TRUSTED = { TRUSTED_AUTHSERV_IDS: 'mx.mesa.test' };

async function app(parser?: (blobs: BlobStore) => MailParser): Promise<App> {
  const config = await testConfig(TRUSTED);
  const a = await createApp(config, silentLogger, {
    parseWorkerUrl: BUILT_PARSE_WORKER,
    parser: parser?.(new BlobStore(path.join(config.dataDir, 'blobs'))),
  });
  apps.push(a);
  return a;
}

const customer = (from: string, headers: Record<string, string>, body: string) =>
  mail({ From: from, To: 'soporte@mesa.test', ...headers }, body);

/** Three cases, each opened in its own batch: #1, #2, #3. */
const OPENINGS = [
  customer('ana.cliente@uno.co', { Subject: 'No imprime', 'Message-ID': '<a1@uno.co>' }, 'La impresora no imprime.'),
  customer('bruno@dos.co', { Subject: 'No factura', 'Message-ID': '<b1@dos.co>' }, 'No sale la factura.'),
  customer('carla@tres.co', { Subject: 'No entra', 'Message-ID': '<c1@tres.co>' }, 'No puedo entrar.'),
];

/** The batch: a new case (#4) and a reply to it; a consultant's command on #1 and a later reply to #1; replies to #2
 * by In-Reply-To and to #3 by its subject's number alone. */
const BATCH = [
  customer('dora@cuatro.co', { Subject: 'Pantalla negra', 'Message-ID': '<d1@cuatro.co>' }, 'Se apagó.'),
  customer(
    'dora@cuatro.co',
    { Subject: 'RE: Pantalla negra', 'Message-ID': '<d2@cuatro.co>', 'In-Reply-To': '<d1@cuatro.co>' },
    'Sigue apagada.',
  ),
  consultantReply('beto@mesa.test', 1, 'k1@mesa.test', '/prioridad alta\n/cerrar\n\nCambiamos el cartucho.'),
  // Proven (DMARC at the receiving server), by its headers alone: it reopens the case the mail before it closed.
  customer(
    'ana.cliente@uno.co',
    {
      Subject: 'RE: No imprime',
      'Message-ID': '<a2@uno.co>',
      'In-Reply-To': '<a1@uno.co>',
      References: '<a1@uno.co>',
      'Authentication-Results': 'mx.mesa.test; dmarc=pass header.from=uno.co',
    },
    'Volvió a fallar: no imprime nada.',
  ),
  customer(
    'bruno@dos.co',
    { Subject: 'RE: No factura', 'Message-ID': '<b2@dos.co>', 'In-Reply-To': '<b1@dos.co>', Cc: 'otro@dos.co' },
    'Con copia a mi jefe.',
  ),
  customer('carla@tres.co', { Subject: 'RE: [Caso #3] No entra', 'Message-ID': '<c2@tres.co>' }, 'Sigo sin entrar.'),
];

/** The statements that find or lock a mail's cases: the look-up by thread ids (per mail or read ahead), by number,
 * and a case's lock of its own. */
const CASE_LOOKUP = /\) as "x" join "tickets"|from "tickets" where "number"|for update/;
/** The read ahead orders its cases by id (the order it locks them in on PostgreSQL); a mail's own look-up does not. */
const readAhead = (s: string) => s.includes(') as "x" join "tickets"') && s.includes('order by "t"."id"');
const ownLookUp = (s: string) => s.includes(') as "x" join "tickets"') && !s.includes('order by "t"."id"');

async function outcome(a: App) {
  const tickets = await a
    .db('tickets')
    .orderBy('number')
    .select('id', 'number', 'stage', 'priority', 'waiting_on', 'assignee');
  const out = [];
  for (const t of tickets) {
    const messages = await a.db('messages').where({ ticket_id: t.id }).orderBy('id').select('message_id', 'role');
    const people = await a.db('participants').where({ ticket_id: t.id }).orderBy('address').select('address', 'role');
    const { id: _id, ...rest } = t;
    out.push({ ...rest, messages, people });
  }
  const outbox = await a.db('outbox').orderBy('id').select('kind', 'recipient');
  return { tickets: out, outbox: outbox.map((o) => `${o.kind} ${o.recipient}`).sort() };
}

/**
 * `mails` ingested by two apps that hold the same three cases: one batch per mail, and all in one batch whose mails
 * are all parsed before the first one's turn. Their results, and the statements that found or locked cases.
 */
async function bothWays(mails: readonly Buffer[]) {
  const single = await app();
  let gated!: ReturnType<typeof wholeBatchParser>;
  const together = await app((blobs) => (gated = wholeBatchParser(blobs)).parser);
  for (const a of [single, together])
    for (const [i, raw] of OPENINGS.entries()) await a.ingest.ingestMany([{ raw, source: imapSource(i + 1) }]);

  const one: string[] = [];
  const stopOne = onStatements(single.db, ({ sql }) => void (CASE_LOOKUP.test(sql) && one.push(sql)));
  const alone: IngestResult[] = [];
  for (const [i, raw] of mails.entries())
    alone.push(...(await single.ingest.ingestMany([{ raw, source: imapSource(i + 10) }])));
  stopOne();

  const batch: string[] = [];
  const stop = onStatements(together.db, ({ sql }) => void (CASE_LOOKUP.test(sql) && batch.push(sql)));
  gated.arm(mails.length);
  const inOne = await together.ingest.ingestMany(mails.map((raw, i) => ({ raw, source: imapSource(i + 10) })));
  stop();
  const summary = (r: IngestResult[]) => r.map((x) => [x.outcome, x.effect, x.ticketNumber]);
  return {
    alone: summary(alone),
    inOne: summary(inOne),
    single: await outcome(single),
    together: await outcome(together),
    one,
    batch,
    pg: together.config.database.client === 'pg',
  };
}

describe('the thread look-up read ahead for a batch', () => {
  it('lands each mail of one batch on the case it lands on one batch per mail, reading once more for a changed case', async () => {
    const run = await bothWays(BATCH);
    expect(run.inOne).toEqual(run.alone);
    expect(run.alone).toEqual([
      ['accepted', 'new_case', 4],
      ['accepted', 'follow_up', 4],
      ['accepted', 'follow_up', 1],
      ['accepted', 'follow_up', 1],
      ['accepted', 'follow_up', 2],
      ['accepted', 'follow_up', 3],
    ]);
    expect(run.together).toEqual(run.single);
    // Closed by the consultant's command, reopened by the reply after it: that reply saw the case as closed.
    expect(run.together.tickets[0]).toMatchObject({ number: 1, priority: 'alta', stage: 'reabierto' });
    expect(run.together.outbox).toContain('closed ana.cliente@uno.co');
    expect(run.together.tickets.map((t) => t.messages.length)).toEqual([3, 2, 2, 2]);

    // One by mail: by thread ids (the replies to #4, #1 and #2), by number (the two tagged alone), a lock each of those
    // two (PostgreSQL).
    expect(run.one).toHaveLength(run.pg ? 7 : 5);
    // Together: the mails 2 to 6 read ahead in one statement, at the second mail's turn (the first names no case);
    // the reply to #1 reads again, as #1 was changed by the consultant's mail before it.
    const ahead = run.batch.filter(readAhead);
    expect(ahead).toHaveLength(1);
    expect(run.batch.filter(ownLookUp)).toHaveLength(1);
    expect(run.batch).toHaveLength(2);
    if (run.pg) expect(ahead[0]).toMatch(/order by "t"\."id" for update of "t"$/);
  });

  it('reads again for a mail that names a case opened in the batch after the read ahead, by Message-ID or number', async () => {
    const run = await bothWays([
      customer(
        'bruno@dos.co',
        { Subject: 'RE: No factura', 'Message-ID': '<b2@dos.co>', 'In-Reply-To': '<b1@dos.co>' },
        'Sigue sin salir.',
      ),
      BATCH[0],
      BATCH[1],
      customer('dora@cuatro.co', { Subject: 'RE: [Caso #4] Pantalla negra', 'Message-ID': '<d3@cuatro.co>' }, 'Nada.'),
    ]);
    expect(run.inOne).toEqual(run.alone);
    expect(run.alone).toEqual([
      ['accepted', 'follow_up', 2],
      ['accepted', 'new_case', 4],
      ['accepted', 'follow_up', 4],
      ['accepted', 'follow_up', 4],
    ]);
    expect(run.together).toEqual(run.single);
    // Read ahead at the first mail's turn, before #4 existed: the reply to it by In-Reply-To and the one by its
    // number read again (the one by number, and its lock on PostgreSQL, as one batch per mail would).
    expect(run.batch.filter(readAhead)).toHaveLength(1);
    expect(run.batch.filter(ownLookUp)).toHaveLength(1);
    expect(run.batch.filter((s) => /from "tickets" where "number" = /.test(s))).toHaveLength(1);
    expect(run.batch).toHaveLength(run.pg ? 4 : 3);
  });
});
