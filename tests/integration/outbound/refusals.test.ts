import { inUnitOfWork } from '../../../src/db/unit-of-work.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { findTicketByNumber } from '../../../src/db/repos/tickets.ts';
import { rawMail } from './fixtures.ts';
import { type MailWorld, mailWorld } from '../../support/worlds.ts';

/** The polite refusal for mail that cannot be taken, and the status page's link mails. */
let w: MailWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

describe('refusals and link mails', () => {
  it('answers a too-large mail politely, in its thread, as an automatic reply; never a daemon', async () => {
    w = await mailWorld({ MAX_MESSAGE_BYTES: '4000' }, { start: false });
    const big = rawMail({
      from: 'pedro@empresa.com',
      subject: 'Log completo',
      body: 'x'.repeat(6000),
      messageId: 'grande-1@empresa.com',
    });
    const r = await w.ingest(big);
    expect(r).toMatchObject({ outcome: 'rejected', reason: 'too_large' });
    await w.ingest(rawMail({ from: 'MAILER-DAEMON@empresa.com', subject: 'Undelivered', body: 'y'.repeat(6000) }));
    await w.app.outbound.dispatcher.drain();
    expect(w.sink.messages.map((m) => m.to)).toEqual(['pedro@empresa.com']);
    const [m] = w.sink.messages;
    expect(m.subject).toBe('Re: Log completo');
    expect(m.header('in-reply-to')).toBe('<grande-1@empresa.com>');
    expect(m.header('auto-submitted')).toBe('auto-replied');
    expect(m.text).toContain('supera el tamaño máximo que aceptamos (4 KB)');
    expect(m.text).toContain('Horario de atención');
  });

  it('mails a fresh link and the lost-link list for the status page', async () => {
    w = await mailWorld({}, { start: false });
    const r1 = await w.ingest(rawMail({ from: 'sofia@empresa.com', subject: 'Caso uno', body: 'uno' }));
    const r2 = await w.ingest(rawMail({ from: 'sofia@empresa.com', subject: 'Caso dos', body: 'dos' }));
    await w.app.outbound.dispatcher.drain();
    const before = w.sink.to('sofia@empresa.com').length;
    const now = Date.now();
    await inUnitOfWork(w.app.db, async (trx) => {
      const cases = [];
      for (const n of [r1.ticketNumber!, r2.ticketNumber!]) {
        const ticket = (await findTicketByNumber(trx, n))!;
        cases.push({
          ticket,
          url: await w!.app.links.issueLink(trx, {
            ticketId: ticket.id,
            number: n,
            recipient: 'sofia@empresa.com',
            now,
          }),
        });
      }
      await w!.app.outbound.linkMailer.lostLinks(trx, { address: 'sofia@empresa.com', cases, now });
      await w!.app.outbound.linkMailer.freshLink(trx, {
        ticket: cases[0].ticket,
        recipient: 'sofia@empresa.com',
        url: cases[0].url,
        now,
      });
    });
    await w.app.outbound.dispatcher.drain();
    const [lost, fresh] = w.sink
      .to('sofia@empresa.com')
      .slice(before)
      .sort((a, b) => a.subject.localeCompare(b.subject));
    const strings = w.app.outbound.renderer.table('links', 'es');
    expect(fresh.subject).toBe(strings.title);
    expect(fresh.text).toMatch(/#\d+ — Caso uno[\s\S]*#\d+ — Caso dos/);
    expect(lost.subject).toBe(`[Caso #${r1.ticketNumber}] Caso uno`);
    expect(lost.text).toContain(strings.headingFresh.replace('{{number}}', String(r1.ticketNumber)));
    for (const m of [lost, fresh]) {
      for (const t of m.text.match(/\/caso\/(\S+)/g)!)
        expect(await w.app.links.verifyToken(w.app.db, t.slice(6), now)).toMatchObject({ ok: true });
    }
  });
});
