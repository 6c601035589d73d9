import { afterEach, describe, expect, it } from 'vitest';
import { listOutbox, suppress } from '../../../src/db/repos/outbox.ts';
import { caseDetail } from '../../../src/services/case-view.ts';
import { rawMail } from './fixtures.ts';
import { type MailWorld, mailWorld } from '../../support/worlds.ts';

/**
 * The loop budget counts automatic mail to customers, not the desk's notices (issue 23). A consultant who got a
 * busy morning's notices still gets the "someone wrote as you" alert; the alerts have their own small limit per
 * consultant and hour (DESK_ALERTS_PER_HOUR), so a spoofer cannot mail-bomb the desk through them either.
 */
let w: MailWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const spoofed = (number: number, i: number) =>
  rawMail({ from: 'ana@mesa.test', subject: `RE: [Caso #${number}] Consulta 0`, body: `/cerrar\nTexto falso ${i}` });
const isAlert = (text: string) => /no se envió al cliente/.test(text);

describe('desk alerts and the loop budget', () => {
  it('a consultant with more notices than the budget allows still gets the spoofing alert', async () => {
    w = await mailWorld(
      { AUTO_MAIL_LIMIT_WINDOW: '3', AUTO_MAIL_WINDOW_MINUTES: '10', AUTO_MAIL_LIMIT_DAY: '5' },
      { start: false },
    );
    // Eight customers open cases: ana gets eight notices, past both the window's 3 and the day's 5.
    const numbers: number[] = [];
    for (let i = 0; i < 8; i++)
      numbers.push(
        (await w.ingest(rawMail({ from: `cliente${i}@empresa${i}.com`, subject: `Consulta ${i}`, body: 'Hola.' })))
          .ticketNumber!,
      );
    await w.app.outbound.dispatcher.drain();
    expect(w.sink.to('ana@mesa.test').length).toBe(8);

    expect(await w.ingest(spoofed(numbers[0], 1))).toMatchObject({ outcome: 'accepted', effect: 'follow_up' });
    await w.app.outbound.dispatcher.drain();
    expect(w.sink.to('ana@mesa.test').filter((m) => isAlert(m.text)).length).toBe(1);
    expect(await listOutbox(w.app.db, { states: ['held'] })).toEqual([]);
  });

  it('alerts to one consultant stop at DESK_ALERTS_PER_HOUR, held with the reason on the case; another consultant is not affected', async () => {
    w = await mailWorld({ DESK_ALERTS_PER_HOUR: '3' }, { start: false });
    const { ticketNumber } = await w.ingest(
      rawMail({ from: 'lucia@cooperativa.co', subject: 'Consulta 0', body: 'Hola.' }),
    );
    for (let i = 0; i < 5; i++) await w.ingest(spoofed(ticketNumber!, i));
    await w.ingest(
      rawMail({
        from: 'beto@mesa.test',
        subject: `RE: [Caso #${ticketNumber}] Consulta 0`,
        body: '/cerrar\nOtro texto falso',
      }),
    );
    await w.app.outbound.dispatcher.drain();
    expect(w.sink.to('ana@mesa.test').filter((m) => isAlert(m.text)).length).toBe(3);
    expect(w.sink.to('beto@mesa.test').filter((m) => isAlert(m.text)).length).toBe(1);
    const held = await listOutbox(w.app.db, { states: ['held'] });
    expect(held.map((h) => [h.recipient, h.kind, h.heldReason])).toEqual([
      ['ana@mesa.test', 'notice_unverified', 'limite: 3 avisos por hora'],
      ['ana@mesa.test', 'notice_unverified', 'limite: 3 avisos por hora'],
    ]);
    const d = (await caseDetail(w.app.db, ticketNumber!, { includeInternal: true }))!;
    expect(d.events.filter((e) => e.type === 'mail_held').map((e) => e.reason)).toEqual([
      'limite: 3 avisos por hora',
      'limite: 3 avisos por hora',
    ]);
    // The customer heard nothing of it.
    expect(w.sink.to('lucia@cooperativa.co').length).toBe(1);
  });

  it('the budget still holds automatic mail to a customer that loops', async () => {
    w = await mailWorld({ AUTO_MAIL_LIMIT_WINDOW: '2', AUTO_MAIL_WINDOW_MINUTES: '10' }, { start: false });
    for (let i = 0; i < 3; i++)
      await w.ingest(rawMail({ from: 'robot@empresa.com', subject: `Aviso ${i}`, body: 'Mensaje automático.' }));
    const held = await listOutbox(w.app.db, { states: ['held'] });
    expect(held.map((h) => [h.recipient, h.kind, h.heldReason])).toEqual([
      ['robot@empresa.com', 'confirmation', 'limite: 2 en 10 min'],
    ]);
  });

  it('a bounce stop recorded for a consultant (before bounces had to prove themselves) holds none of their notices', async () => {
    w = await mailWorld({}, { start: false });
    const now = Date.now();
    // One case enqueues ana's notice; then a stop for her is recorded before it is sent: the claim still sends it.
    const { ticketNumber } = await w.ingest(
      rawMail({ from: 'lucia@cooperativa.co', subject: 'Consulta 0', body: 'Hola.' }),
    );
    await suppress(w.app.db, { address: 'ana@mesa.test', reason: 'rebote 5.1.1', until: now + 86_400_000, now });
    await w.app.outbound.dispatcher.drain();
    // And notices enqueued while the stop lasts go too.
    await w.ingest(
      rawMail({
        from: 'lucia@cooperativa.co',
        subject: `RE: [Caso #${ticketNumber}] Consulta 0`,
        body: 'Sigue igual.',
      }),
    );
    await w.app.outbound.dispatcher.drain();
    expect(w.sink.to('ana@mesa.test').length).toBe(2);
    expect(await listOutbox(w.app.db, { states: ['held'] })).toEqual([]);
  });
});
