import crypto from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { listOutbox } from '../../../src/db/repos/outbox.ts';
import { caseDetail } from '../../../src/services/case-view.ts';
import type { SinkMessage } from '../../support/smtp-sink.ts';
import { rawMail, replyTo } from './fixtures.ts';
import { type MailWorld, mailWorld } from '../../support/worlds.ts';

/**
 * Mail loops. An auto-responder answers every mail the sink delivers to it by feeding its answer back into the
 * gateway; the exchange must stop by itself within the loop budget (AUTO_MAIL_LIMIT_WINDOW, default 10 in 10
 * minutes). A hard bounce stops automatic mail to the address. The figures are printed.
 */
let w: MailWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});
const ROBOT = 'robot@autorespuesta.example';

type Responder = (m: SinkMessage, n: number) => Buffer;

/** Runs the exchange until the gateway stops writing to the robot; returns [mails in, mails out]. */
async function exchange(responder: Responder, maxRounds = 200): Promise<{ inbound: number; outbound: number }> {
  await w!.ingest(rawMail({ from: ROBOT, subject: 'Consulta inicial', body: 'Hola, necesito ayuda.' }));
  let answered = 0;
  for (let round = 0; round < maxRounds; round++) {
    await w!.app.outbound.dispatcher.drain();
    const fresh = w!.sink.to(ROBOT).slice(answered);
    if (!fresh.length) break;
    for (const m of fresh) await w!.ingest(responder(m, ++answered));
  }
  return { inbound: answered + 1, outbound: w!.sink.to(ROBOT).length };
}

const wellBehaved: Responder = (m) =>
  rawMail({
    from: ROBOT,
    subject: `Respuesta automática: ${m.subject}`,
    body: 'Estoy fuera de la oficina.',
    inReplyTo: m.messageId,
    headers: { 'Auto-Submitted': 'auto-replied' },
  });
const naive: Responder = (m) =>
  replyTo(m, { from: ROBOT, body: 'Gracias por su correo, lo leeremos pronto.', quote: false });
// The worst kind: no RFC 3834 header, no threading, a new subject every time — every answer looks like a new case.
const hostile: Responder = (_m, n) =>
  rawMail({
    from: ROBOT,
    subject: `Aviso ${n} ${crypto.randomBytes(3).toString('hex')}`,
    body: `Mensaje automático número ${n}.`,
  });

describe('loop budget', () => {
  it('an RFC 3834 auto-responder gets one confirmation and its answer is filed, not answered', async () => {
    w = await mailWorld({}, { start: false });
    const r = await exchange(wellBehaved);
    console.log(`auto-respuesta con Auto-Submitted: ${r.inbound} entrantes, ${r.outbound} salientes`);
    expect(r).toEqual({ inbound: 2, outbound: 1 });
  });

  it('a naive responder that replies in the thread becomes a follow-up for consultants, never a new mail to it', async () => {
    w = await mailWorld({}, { start: false });
    const r = await exchange(naive);
    console.log(`respondedor ingenuo (Re:, In-Reply-To): ${r.inbound} entrantes, ${r.outbound} salientes`);
    expect(r).toEqual({ inbound: 2, outbound: 1 });
  });

  it('a hostile responder (new subject, no headers) is stopped by the per-recipient limit, with the reason recorded', async () => {
    w = await mailWorld({}, { start: false });
    const r = await exchange(hostile);
    console.log(
      `respondedor hostil (asunto nuevo, sin cabeceras): ${r.inbound} entrantes, ${r.outbound} salientes — se detuvo solo (límite ${w.app.config.outbound.budget.window} en ${w.app.config.outbound.budget.windowMinutes} min)`,
    );
    expect(r.outbound).toBe(w.app.config.outbound.budget.window);
    expect(r.inbound).toBe(r.outbound + 1);
    const held = await listOutbox(w.app.db, { states: ['held'] });
    expect(held.length).toBe(1);
    expect(held[0]).toMatchObject({ recipient: ROBOT, kind: 'confirmation' });
    expect(held[0].heldReason).toBe('limite: 10 en 10 min');
    const number = Number(/#(\d+)/.exec(held[0].subject)![1]);
    const d = (await caseDetail(w.app.db, number))!;
    expect(d.events.find((e) => e.type === 'mail_held')).toMatchObject({ to: ROBOT, reason: 'limite: 10 en 10 min' });
  });

  it('a hard bounce of our mail stops automatic mail to that address for a while, recorded on the case; a consultant answer still goes', async () => {
    const { w, r, conf } = await caseConfirmedTo('nadie@empresa.com', 'Error al exportar', 'Falla la exportación.');
    const toAna = w.sink.to('ana@mesa.test')[0];
    const dsn = hardBounce('nadie@empresa.com', conf);
    const bounced = await w.ingest(dsn);
    expect(bounced).toMatchObject({ outcome: 'accepted', effect: 'system_note', ticketNumber: r.ticketNumber });
    const d = (await caseDetail(w.app.db, r.ticketNumber!, { includeInternal: true }))!;
    expect(d.events.find((e) => e.type === 'address_suppressed')).toMatchObject({ to: 'nadie@empresa.com' });
    expect(d.events.find((e) => e.type === 'address_suppressed')!.reason).toContain('5.1.1');

    // A consultant answers and closes: the answer (a person's words) is sent, the automatic closing notice is held.
    await w.ingest(replyTo(toAna, { from: 'ana@mesa.test', body: '/cerrar\nLo corregimos en el servidor.' }));
    await onlyTheAnswerGoes('Lo corregimos en el servidor.');
  });

  it('a permanent failure that leaves the address alive (5.2.2 mailbox full) is recorded on the case, and automatic mail to it goes on', async () => {
    const { w, r, conf } = await caseConfirmedTo('llena@empresa.com', 'No imprime el reporte', 'No imprime.');
    expect(await w.ingest(hardBounce('llena@empresa.com', conf, '5.2.2', 'Mailbox full'))).toMatchObject({
      outcome: 'accepted',
      effect: 'system_note',
      ticketNumber: r.ticketNumber,
    });
    const d = (await caseDetail(w.app.db, r.ticketNumber!, { includeInternal: true }))!;
    expect(d.events.find((e) => e.type === 'mail_undelivered')).toMatchObject({ to: 'llena@empresa.com' });
    expect(d.events.find((e) => e.type === 'mail_undelivered')!.reason).toContain('5.2.2');
    expect(d.events.some((e) => e.type === 'address_suppressed')).toBe(false);
    expect(await w.app.db('mail_suppressions').where({ address: 'llena@empresa.com' })).toEqual([]);

    // The consultant answers and closes: the answer and the automatic closing notice both go.
    await w.ingest(
      replyTo(w.sink.to('ana@mesa.test')[0], {
        from: 'ana@mesa.test',
        body: '/cerrar\nYa imprime: era el controlador.',
      }),
    );
    await w.app.outbound.dispatcher.drain();
    expect(await listOutbox(w.app.db, { states: ['held'] })).toEqual([]);
    const toCustomer = w.sink.to('llena@empresa.com');
    expect(toCustomer.length).toBe(3);
    expect(toCustomer.some((m) => m.text.includes('Ya imprime: era el controlador.'))).toBe(true);
  });

  it("automatic mail enqueued before the bounce was recorded is held when its turn to be sent comes, not sent; a person's words still go", async () => {
    const { w, r, conf } = await caseConfirmedTo('nadie@empresa.com', 'No llega la factura', 'No recibo la factura.');
    // The consultant answers and closes before the bounce of the confirmation comes back: the answer and the
    // automatic closing notice wait in the outbox (not yet sent), then the bounce is recorded.
    await w.ingest(
      replyTo(w.sink.to('ana@mesa.test')[0], {
        from: 'ana@mesa.test',
        body: '/cerrar\nLa reenviamos a su otra casilla.',
      }),
    );
    expect((await listOutbox(w.app.db, { states: ['pending'] })).map((o) => o.kind).sort()).toEqual([
      'answer',
      'closed',
    ]);
    expect(await w.ingest(hardBounce('nadie@empresa.com', conf))).toMatchObject({
      outcome: 'accepted',
      effect: 'system_note',
    });

    await onlyTheAnswerGoes('La reenviamos a su otra casilla.');
    const d = (await caseDetail(w.app.db, r.ticketNumber!, { includeInternal: true }))!;
    expect(d.events.find((e) => e.type === 'mail_held')).toMatchObject({
      to: 'nadie@empresa.com',
      reason: 'rebote: rebote 5.1.1',
    });
  });
});

/** A new world (the suite's `w`, its dispatcher not started) where `from` opened a case and its confirmation was
 * sent: the world, the case's result and that confirmation, for a bounce to name. */
async function caseConfirmedTo(
  from: string,
  subject: string,
  body: string,
): Promise<{ w: MailWorld; r: Awaited<ReturnType<MailWorld['ingest']>>; conf: SinkMessage }> {
  const world = (w = await mailWorld({}, { start: false }));
  const r = await world.ingest(rawMail({ from, subject, body }));
  await world.app.outbound.dispatcher.drain();
  return { w: world, r, conf: world.sink.to(from)[0] };
}

/** After a hard bounce of nadie@empresa.com: once the outbox is drained, the customer has the confirmation and the
 * consultant's answer (`answer`), and the automatic closing notice is held with the bounce's reason. */
async function onlyTheAnswerGoes(answer: string): Promise<void> {
  await w!.app.outbound.dispatcher.drain();
  const toCustomer = w!.sink.to('nadie@empresa.com');
  expect(toCustomer.length).toBe(2);
  expect(toCustomer[1].text).toContain(answer);
  const held = await listOutbox(w!.app.db, { states: ['held'] });
  expect(held.map((h) => [h.kind, h.heldReason])).toEqual([['closed', 'rebote: rebote 5.1.1']]);
}

/** A DSN (RFC 3464) from the recipient's server refusing our mail `ours` for good: by default, `to` does not exist. */
function hardBounce(to: string, ours: SinkMessage, status = '5.1.1', said = 'User unknown'): Buffer {
  const b = `dsn-${crypto.randomBytes(4).toString('hex')}`;
  return Buffer.from(
    [
      'From: Mail Delivery System <MAILER-DAEMON@mx.empresa.com>',
      'To: soporte@mesa.test',
      'Subject: Undelivered Mail Returned to Sender',
      `Message-ID: <${b}@mx.empresa.com>`,
      `Date: ${new Date().toUTCString()}`,
      'MIME-Version: 1.0',
      `Content-Type: multipart/report; report-type=delivery-status; boundary="${b}"`,
      '',
      `--${b}`,
      'Content-Type: text/plain',
      '',
      `<${to}>: host mx.empresa.com said: 550 ${status} ${said}`,
      '',
      `--${b}`,
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; mx.empresa.com',
      '',
      `Final-Recipient: rfc822; ${to}`,
      'Action: failed',
      `Status: ${status}`,
      '',
      `--${b}`,
      'Content-Type: text/rfc822-headers',
      '',
      `Message-ID: <${ours.messageId}>`,
      `Subject: ${ours.subject}`,
      `To: ${to}`,
      '',
      `--${b}--`,
      '',
    ].join('\r\n'),
  );
}
