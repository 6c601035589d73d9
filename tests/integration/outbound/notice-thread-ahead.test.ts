import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { insertMessage } from '../../../src/db/repos/case-messages.ts';
import { insertLink, revokeLinksOfRecipient } from '../../../src/db/repos/links.ts';
import { expectNewRows } from '../../../src/db/repos/ids-ahead.ts';
import { noticeThreadFromAhead } from '../../../src/db/repos/notice-thread-ahead.ts';
import { expectNotices, readNoticeThreadsAhead } from '../../../src/db/repos/notice-thread-read.ts';
import {
  insertOutbox,
  letOutboxWait,
  linkGenerationsIn,
  threadFrom,
  threadRows,
} from '../../../src/db/repos/outbox.ts';
import { onStatements } from '../../../src/db/storage.ts';
import { inUnitOfWork, type UnitOfWork } from '../../../src/db/unit-of-work.ts';
import type { Ticket } from '../../../src/tickets/types.ts';
import { testApp } from '../../support/app.ts';
import { bareCase } from '../../support/bare-case.ts';
import { imapSource, parsedAhead } from '../../support/ingest-batches.ts';
import { consultantReply, mail } from '../../support/lifecycle.ts';
import { storedMailTo } from '../../support/mail.ts';

/**
 * The threads of the notices read ahead (src/db/repos/notice-thread-read.ts, notice-thread-ahead.ts): in the ingest's
 * batch, the first notice that reads its thread and link reads them for the consultants of every case the ready mails
 * name, in one statement, and the later notices answer from memory with what the batch wrote since (messages, our
 * mail, new link generations; a revoked link is read again). Each mail must carry the headers and links it carries
 * when every mail is its own batch.
 */
const apps: App[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});

const TRUSTED = { TRUSTED_AUTHSERV_IDS: 'mx.mesa.test' };

const customer = (from: string, headers: Record<string, string>, body: string) =>
  mail({ From: from, To: 'soporte@mesa.test', ...headers }, body);
const proven = (domain: string) => ({ 'Authentication-Results': `mx.mesa.test; dmarc=pass header.from=${domain}` });

/** Three cases, each opened in its own batch: #1, #2, #3. */
const OPENINGS = [
  customer('ana.cliente@uno.co', { Subject: 'No imprime', 'Message-ID': '<a1@uno.co>' }, 'La impresora no imprime.'),
  customer('bruno@dos.co', { Subject: 'No factura', 'Message-ID': '<b1@dos.co>' }, 'No sale la factura.'),
  customer('carla@tres.co', { Subject: 'No entra', 'Message-ID': '<c1@tres.co>' }, 'No puedo entrar.'),
];

/** The batch: replies on #2 before and after a consultant's answer on it, and a second answer after the last (its
 * thread to the customer read with the first's); a consultant closes #1 and its customer's reply reopens it (its
 * links are revoked); a reply to #3 by its number. */
const BATCH = [
  customer(
    'bruno@dos.co',
    { Subject: 'RE: No factura', 'Message-ID': '<b2@dos.co>', 'In-Reply-To': '<b1@dos.co>' },
    'Nada.',
  ),
  consultantReply('beto@mesa.test', 1, 'k1@mesa.test', '/cerrar\n\nCambiamos el cartucho.'),
  consultantReply('ana@mesa.test', 2, 'k2@mesa.test', 'Revisamos la factura: pruebe otra vez.'),
  customer(
    'ana.cliente@uno.co',
    { Subject: 'RE: No imprime', 'Message-ID': '<a2@uno.co>', 'In-Reply-To': '<a1@uno.co>', ...proven('uno.co') },
    'Volvió a fallar.',
  ),
  customer(
    'bruno@dos.co',
    { Subject: 'RE: [Caso #2] No factura', 'Message-ID': '<b3@dos.co>', 'In-Reply-To': '<k2@mesa.test>' },
    'Sigue igual.',
  ),
  customer('carla@tres.co', { Subject: 'RE: [Caso #3] No entra', 'Message-ID': '<c2@tres.co>' }, 'Sigo sin entrar.'),
  consultantReply('beto@mesa.test', 2, 'k3@mesa.test', 'Pruebe con otro navegador.'),
];

/** The magic links a stored mail carries (sealed: case number and generation), wherever its data holds them. */
function linksIn(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) for (const x of v) linksIn(x, out);
  else if (v && typeof v === 'object') {
    const link = (v as { $link?: { number: number; generation: number } }).$link;
    if (link) out.push(`#${link.number} g${link.generation}`);
    else for (const x of Object.values(v)) linksIn(x, out);
  }
  return out;
}

/** Every outbox row in order with its threading and links; our Message-IDs (random) named by their row's place. */
async function outboxOf(a: App) {
  const rows = await a.db('outbox').orderBy('id').select('kind', 'recipient', 'state', 'message_id', 'mail_json');
  const ours = new Map(rows.map((r, i) => [`<${r.message_id}>`, `mail ${i}`]));
  const name = (id: string) => ours.get(id) ?? id;
  return rows.map((r) => {
    const m = JSON.parse(r.mail_json);
    return {
      mail: `${r.kind} ${r.recipient} ${r.state}`,
      inReplyTo: m.inReplyTo === undefined ? undefined : name(m.inReplyTo),
      references: (m.references as string[]).map(name),
      links: linksIn(m.render?.data),
    };
  });
}

const linksOf = async (a: App) =>
  (
    await a
      .db('links')
      .join('tickets', 'tickets.id', 'links.ticket_id')
      .orderBy(['tickets.number', 'links.recipient', 'links.generation'])
      .select('tickets.number', 'links.recipient', 'links.generation', 'links.revoked_at')
  ).map((l) => `#${l.number} ${l.recipient} g${l.generation}${l.revoked_at === null ? '' : ' revocado'}`);

/** A clock a millisecond later at every call: each mail's time comes after the one before it in a batch too, so that
 * the threads (ordered by time) compare; a batch's mails are otherwise often prepared within one millisecond. */
function ticking(): () => number {
  let t = Date.now();
  return () => ++t;
}

async function world(): Promise<App> {
  const a = await testApp(TRUSTED, { clock: ticking() });
  apps.push(a);
  for (const [i, raw] of OPENINGS.entries()) await a.ingest.ingestMany([{ raw, source: imapSource(i + 1) }]);
  return a;
}

/** The statements that read a notice's thread and link, alone (threadRows) or ahead; `careful`: only those of the
 * careful rerun (after its first savepoint). */
function threadReads(a: App, careful = false): { alone: () => number; ahead: () => number } {
  let alone = 0;
  let ahead = 0;
  let counting = !careful;
  onStatements(a.db, ({ sql }) => {
    if (/^SAVEPOINT/i.test(sql)) counting = true;
    if (counting && sql.startsWith('select * from (select 0 as "k"')) alone++;
    if (counting && sql.startsWith('select "k", "ticket_id", "a"')) ahead++;
  });
  return { alone: () => alone, ahead: () => ahead };
}

describe('the notices read ahead', () => {
  it('thread and link each notice of one batch as one batch per mail does', async () => {
    const one = await world();
    const single = threadReads(one);
    for (const [i, raw] of BATCH.entries()) await one.ingest.ingestMany([{ raw, source: imapSource(i + 10) }]);

    const many = await world();
    await parsedAhead(many, BATCH);
    const batched = threadReads(many);
    const results = await many.ingest.ingestMany(BATCH.map((raw, i) => ({ raw, source: imapSource(i + 10) })));
    expect(results.map((r) => [r.effect, r.ticketNumber])).toEqual([
      ['follow_up', 2],
      ['follow_up', 1],
      ['follow_up', 2],
      ['follow_up', 1],
      ['follow_up', 2],
      ['follow_up', 3],
      ['follow_up', 2],
    ]);

    const mails = await outboxOf(many);
    expect(mails).toEqual(await outboxOf(one));
    expect(await linksOf(many)).toEqual(await linksOf(one));
    // The reopened case's links were revoked: its notices carry new generations.
    expect(await linksOf(many)).toContain('#1 beto@mesa.test g2');
    // The consultant's answer on #2 is in the thread of the notice of the reply after it.
    const onTwo = mails.filter(
      (m) => m.mail.startsWith('consultant_follow_up ana@mesa.test') && m.links[0] === '#2 g1',
    );
    expect(onTwo.at(-1)!.inReplyTo).toBe('<k2@mesa.test>');
    // And the customer's reply after it in the second answer's thread, read before it was written.
    expect(mails.filter((m) => m.mail.startsWith('answer bruno')).at(-1)!.inReplyTo).toBe('<b3@dos.co>');

    // Alone, each mail's first notice read for its case's consultants (and an answer's customer) in one statement: seven.
    // Together: the first notice read for the cases of the whole batch; the answers to the customers of #1 and #2
    // each read for their pair (no notice to a customer is expected), and the reply that reopened #1 read it again,
    // its links revoked since. The other threads read are those of mail without a link (closed, reopened), alike.
    expect(single.ahead()).toBe(7);
    expect(batched.ahead()).toBe(4);
    expect(batched.alone()).toBe(single.alone());
  });

  it('are not read in the careful rerun of a batch: there each notice reads alone', async () => {
    const a = await world();
    // The confirmation of the case the batch opens (id 4), already in the outbox: the first run's flush is refused.
    await insertOutbox(a.db, {
      idempotencyKey: 'case:4:opened:confirmation:dora@cuatro.co',
      kind: 'confirmation',
      recipient: 'dora@cuatro.co',
      automatic: true,
      messageId: 'antes@mesa.test',
      mail: storedMailTo('dora@cuatro.co'),
      state: 'pending',
      now: Date.now(),
    });
    const batch = [
      BATCH[0],
      customer('dora@cuatro.co', { Subject: 'Pantalla negra', 'Message-ID': '<d1@cuatro.co>' }, 'Se apagó.'),
      BATCH[5],
    ];
    await parsedAhead(a, batch);
    const careful = threadReads(a, true);
    const results = await a.ingest.ingestMany(batch.map((raw, i) => ({ raw, source: imapSource(i + 10) })));
    expect(results.map((r) => r.effect)).toEqual(['follow_up', 'new_case', 'follow_up']);
    // The replies to #2 and #3, each to both consultants: four notices, four reads of their own.
    expect(careful.ahead()).toBe(0);
    expect(careful.alone()).toBe(4);
  });

  it('answers a pair from memory as a read does, across a flush, and reads again after a revocation', async () => {
    const a = await testApp();
    apps.push(a);
    const ticketId = await bareCase(a, 1, 'carla@empresa.com');
    const t = { id: ticketId, number: 1 } as Ticket;
    const consultants = () => ['ana@mesa.test', 'beto@mesa.test'];
    let n = 0;
    const message = (uow: UnitOfWork, from: string) =>
      insertMessage(uow, {
        ticketId,
        role: from === 'carla@empresa.com' ? 'customer' : 'consultant',
        source: 'mail',
        fromAddress: from,
        messageId: `m${++n}@x.co`,
        bodyText: 'texto',
        internal: false,
        verified: true,
        createdAt: 100 + n,
        attachments: [],
      });
    const notice = (uow: UnitOfWork, to: string) =>
      insertOutbox(uow, {
        idempotencyKey: `k${++n}`,
        ticketId,
        kind: 'consultant_follow_up',
        recipient: to,
        automatic: true,
        messageId: `o${n}@mesa.test`,
        mail: storedMailTo(to),
        state: 'pending',
        now: 100 + n,
      });
    const link = (uow: UnitOfWork, to: string, generation: number) =>
      insertLink(uow, {
        ticketId,
        recipient: to,
        generation,
        tokenHash: `${to}${generation}`,
        expiresAt: 9_000,
        now: 5,
      });
    // What the case held before the batch.
    await inUnitOfWork(a.db, async (uow) => {
      await message(uow, 'carla@empresa.com');
      await message(uow, 'ana@mesa.test');
      await notice(uow, 'ana@mesa.test');
      await link(uow, 'ana@mesa.test', 1);
    });

    await inUnitOfWork(a.db, async (uow) => {
      uow.gather();
      letOutboxWait(uow);
      // On PostgreSQL the messages wait for the flush, under ids taken ahead; on SQLite they are written at once.
      expectNewRows(uow, 10);
      expectNotices(uow, []);
      // Waiting as the read runs: the read does not see it.
      await notice(uow, 'beto@mesa.test');
      expect(await readNoticeThreadsAhead(uow, t, 'ana@mesa.test', 4, consultants)).toBe(true);
      /** Each pair's thread and links from memory, and as read now. */
      const both = async () => {
        const out = [];
        for (const to of consultants()) {
          const memory = noticeThreadFromAhead(uow, ticketId, to, 4)!;
          const read = await threadRows(uow, ticketId, to, 4, true);
          const thread = (rows: any[]) => {
            const { root, theirs, ours } = threadFrom(uow, [...rows], ticketId, to, 4);
            const plain = (l: any[]) => l.map((r) => `${r.message_id} ${Number(r.created_at)}`);
            return { root, theirs: plain(theirs), ours: plain(ours), links: linkGenerationsIn(rows) };
          };
          out.push([thread(memory), thread(read)]);
        }
        return out;
      };
      const same = async () => {
        for (const [memory, read] of await both()) expect(memory).toEqual(read);
      };
      await same();
      // Written after the read: a message from each side, our mail to both, a new generation for beto.
      await message(uow, 'carla@empresa.com');
      await message(uow, 'beto@mesa.test');
      await notice(uow, 'ana@mesa.test');
      await notice(uow, 'beto@mesa.test');
      await link(uow, 'beto@mesa.test', 1);
      await same();
      await uow.flush();
      await same();
      await message(uow, 'ana@mesa.test');
      await notice(uow, 'ana@mesa.test');
      await link(uow, 'ana@mesa.test', 2);
      await same();
      const [[ana]] = await both();
      expect(ana.theirs).toEqual(['m9@x.co 109', 'm2@x.co 102']);
      expect(ana.ours).toEqual(['o10@mesa.test 110', 'o7@mesa.test 107', 'o3@mesa.test 103']);
      // A revocation: that case is read again, not answered from what was read before it.
      await revokeLinksOfRecipient(uow, ticketId, 'ana@mesa.test', 200, 'prueba');
      expect(noticeThreadFromAhead(uow, ticketId, 'ana@mesa.test', 4)).toBeUndefined();
      expect(noticeThreadFromAhead(uow, ticketId, 'beto@mesa.test', 4)).toBeUndefined();
    });
  });
});
