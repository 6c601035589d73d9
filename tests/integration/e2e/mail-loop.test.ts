import { afterAll, beforeAll, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { caseDetail } from '../../../src/services/case-view.ts';
import type { Dovecot } from '../../support/dovecot.ts';
import type { SmtpSink } from '../../support/smtp-sink.ts';
import { mailboxWorld, type MailboxWorld } from '../../support/worlds.ts';
import { rawMail, replyTo } from '../outbound/fixtures.ts';

/**
 * The whole loop on real servers: a customer's mail lands in the support mailbox of a real Dovecot, the IMAP
 * poller takes it, the confirmation and the consultants' notifications leave through a real SMTP server, the
 * consultant answers from their mail client (the reply lands in the same mailbox), and the customer gets the
 * answer in the same thread — each step checked in what the SMTP sink received.
 */
let world: MailboxWorld;
let dovecot: Dovecot;
let sink: SmtpSink;
let app: App;

beforeAll(async () => {
  world = await mailboxWorld();
  ({ dovecot, sink, app } = world);
});

afterAll(async () => {
  await world?.close();
});

it('customer mail in → confirmation out → consultant reply in → answer out, threaded, without quotes, with a working link', async () => {
  const CUSTOMER = 'lucia@cooperativa.co';
  const started = Date.now();
  await dovecot.append(
    'support',
    rawMail({
      from: CUSTOMER,
      fromName: 'Lucía Gómez',
      subject: 'El reporte de cartera no descarga',
      messageId: 'lucia-1@cooperativa.co',
      body: 'Buenos días,\nal descargar el reporte de cartera aparece una página en blanco.\nGracias.',
    }),
  );

  const [conf] = await sink.waitFor((m) => m.to === CUSTOMER);
  const [toAna] = await sink.waitFor((m) => m.to === 'ana@mesa.test');
  await sink.waitFor((m) => m.to === 'beto@mesa.test');
  const number = Number(/\[Caso #(\d+)\]/.exec(conf.subject)![1]);
  expect(conf.subject).toBe(`[Caso #${number}] El reporte de cartera no descarga`);
  expect(conf.header('in-reply-to')).toBe('<lucia-1@cooperativa.co>');
  expect(conf.header('auto-submitted')).toBe('auto-replied');
  expect(toAna.text).toContain('al descargar el reporte de cartera aparece una página en blanco.');
  const firstLeg = Date.now() - started;

  await dovecot.append(
    'support',
    replyTo(toAna, {
      from: 'ana@mesa.test',
      fromName: 'Ana Pérez',
      body: '/etapa analisis\nHola Lucía, ya identificamos la causa: el filtro de fechas. Mañana queda corregido.\n\nSaludos,\nAna',
    }),
  );
  const [answer] = await sink.waitFor((m) => m.to === CUSTOMER && m.messageId !== conf.messageId);
  expect(answer.subject).toBe(`[Caso #${number}] El reporte de cartera no descarga`);
  expect(answer.parsed.from?.value[0]).toMatchObject({
    name: 'Ana Pérez (Soporte Mesa)',
    address: 'soporte@mesa.test',
  });
  expect(answer.header('in-reply-to')).toBe(`<${conf.messageId}>`);
  expect(answer.header('references')).toContain('<lucia-1@cooperativa.co>');
  expect(answer.header('references')).toContain(`<${conf.messageId}>`);
  expect(answer.text).toContain('ya identificamos la causa: el filtro de fechas');
  expect(answer.text).not.toContain('/etapa');
  expect(answer.text).not.toMatch(/escribió|^>/m);
  const token = /\/caso\/(\S+)/.exec(answer.text)![1];
  expect(await app.links.verifyToken(app.db, token, Date.now())).toMatchObject({
    ok: true,
    number,
    recipient: CUSTOMER,
  });

  // The customer answers the answer: the consultants hear it, in the same thread.
  await dovecot.append('support', replyTo(answer, { from: CUSTOMER, body: 'Perfecto, quedo atenta.' }));
  const [followUp] = await sink.waitFor((m) => m.to === 'ana@mesa.test' && m.text.includes('Perfecto, quedo atenta.'));
  expect(followUp.subject).toBe(`[Caso #${number}] El reporte de cartera no descarga`);

  const d = (await caseDetail(app.db, number, { includeInternal: true }))!;
  expect(d.stage).toBe('analisis');
  expect(d.messages.map((m) => m.role)).toEqual(['customer', 'consultant', 'customer']);
  console.log(
    `ciclo completo por Dovecot y SMTP: ${sink.messages.length} correos salientes; primera confirmación a los ${firstLeg} ms, todo en ${Date.now() - started} ms`,
  );
});
