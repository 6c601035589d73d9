import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loopToken } from '../../../src/mail/loop-token.ts';
import { parseOurMessageId, sentTo } from '../../../src/mail/message-id.ts';
import { caseDetail } from '../../../src/services/case-view.ts';
import type { SinkMessage } from '../../support/smtp-sink.ts';
import { rawMail, replyTo } from './fixtures.ts';
import { type MailWorld, mailWorld } from '../../support/worlds.ts';

/**
 * The conversation by mail, through the real ingest path and a real SMTP server as the sink: what each side
 * receives, how it threads, what consultants can do from their mail client, and what a forger cannot.
 */
let w: MailWorld;
const CUSTOMER = 'carla@empresa.com';
const sent = async () => w.app.outbound.dispatcher.drain();
const linkIn = (m: SinkMessage) => /http:\/\/127\.0\.0\.1:8080\/caso\/([^\s"<>]+)/.exec(m.text)?.[1];

async function openCase(extra: Partial<Parameters<typeof rawMail>[0]> = {}) {
  const raw = rawMail({
    from: CUSTOMER,
    fromName: 'Carla Ríos',
    subject: 'No puedo facturar',
    body: 'Hola,\nal facturar sale el error E-42.\nGracias',
    messageId: 'orig-1@empresa.com',
    ...extra,
  });
  const r = await w.ingest(raw);
  expect(r.outcome).toBe('accepted');
  await sent();
  const toAna = w.sink.to('ana@mesa.test').at(-1)!;
  return { number: r.ticketNumber!, toAna };
}

const detail = async (n: number) => (await caseDetail(w.app.db, n, { includeInternal: true }))!;

describe('mail out and consultants by mail', () => {
  beforeEach(async () => {
    w = await mailWorld({}, { start: false });
  });
  afterEach(async () => {
    await w.close();
  });

  it('confirms to the requester and notifies every consultant while unassigned, with the headers that thread and stop loops', async () => {
    const { number } = await openCase({ attachments: [{ filename: 'error <E42>.pdf', content: '%PDF-1.4 prueba' }] });
    const [conf] = w.sink.to(CUSTOMER);
    expect(conf.subject).toBe(`[Caso #${number}] No puedo facturar`);
    expect(conf.header('from')).toContain('soporte@mesa.test');
    expect(conf.parsed.from?.value[0].name).toBe('Soporte Mesa');
    expect(conf.parsed.replyTo?.value[0].address).toBe('soporte@mesa.test');
    expect(conf.header('auto-submitted')).toBe('auto-replied');
    expect(conf.header('x-auto-response-suppress')).toBe('All');
    expect(conf.header('x-mesa-loop')).toBe(loopToken(w.app.config));
    expect(conf.header('in-reply-to')).toBe('<orig-1@empresa.com>');
    expect(conf.header('thread-topic')).toBe('No puedo facturar');
    expect(Buffer.from(conf.header('thread-index')!, 'base64').length).toBe(27);
    const ours = parseOurMessageId(w.app.config.secretKey, conf.messageId)!;
    expect(ours.number).toBe(number);
    expect(sentTo(w.app.config.secretKey, ours, CUSTOMER)).toBe(true);
    expect(conf.text).toContain('al facturar sale el error E-42.');
    expect(conf.text).toContain('Horario de atención');
    const verified = await w.app.links.verifyToken(w.app.db, linkIn(conf)!, Date.now());
    expect(verified).toMatchObject({ ok: true, number, recipient: CUSTOMER });
    expect(conf.html).toContain('Consultar mi caso');

    for (const c of ['ana@mesa.test', 'beto@mesa.test']) {
      const [n] = w.sink.to(c);
      expect(n.subject).toBe(`[Caso #${number}] No puedo facturar`);
      expect(n.header('auto-submitted')).toBe('auto-generated');
      expect(n.text).toContain('carla@empresa.com');
      expect(n.text).toContain('empresa.com');
      expect(n.text).toContain('media');
      expect(n.text).toContain('/prioridad alta|media|baja');
      expect(n.text).toContain('error <E42>.pdf');
      expect(n.parsed.attachments.map((a) => a.filename)).toEqual(['error <E42>.pdf']);
      // Streamed to the blob store while parsing, attached by path when sent: the very bytes the customer sent.
      expect(n.parsed.attachments[0].content.toString()).toBe('%PDF-1.4 prueba');
      // Outlook groups a case by the first 22 bytes of Thread-Index: the same for every mail of the case.
      expect(Buffer.from(n.header('thread-index')!, 'base64').subarray(0, 22)).toEqual(
        Buffer.from(conf.header('thread-index')!, 'base64').subarray(0, 22),
      );
      // The file name came from mail: escaped in the HTML.
      expect(n.html).toContain('error &lt;E42&gt;.pdf');
    }
  });

  it('relays a consultant reply to the requester and the CC, without quotes, signature or the consultant address, in the same thread', async () => {
    const { number, toAna } = await openCase({ cc: 'jefe@empresa.com' });
    const conf = w.sink.to(CUSTOMER)[0];
    const r = await w.ingest(
      replyTo(toAna, {
        from: 'ana@mesa.test',
        fromName: 'Ana Pérez',
        body: 'Hola Carla, ya quedó corregido.\nEscríbame a ana@mesa.test si sigue.\n\n-- \nAna Pérez\nConsultora',
      }),
    );
    expect(r).toMatchObject({ outcome: 'accepted', effect: 'follow_up', ticketNumber: number });
    await sent();
    const answer = w.sink.to(CUSTOMER).at(-1)!;
    expect(answer.subject).toBe(`[Caso #${number}] No puedo facturar`);
    expect(answer.parsed.from?.value[0]).toMatchObject({
      name: 'Ana Pérez (Soporte Mesa)',
      address: 'soporte@mesa.test',
    });
    expect(answer.header('auto-submitted')).toBeUndefined();
    expect(answer.text).toContain('ya quedó corregido');
    expect(answer.text).not.toContain('escribió:');
    expect(answer.text).not.toContain('> ');
    expect(answer.text).not.toContain('Consultora');
    expect(answer.raw.toString('latin1').toLowerCase()).not.toContain('ana@mesa.test');
    const refs = answer.header('references')!;
    expect(refs).toContain('<orig-1@empresa.com>');
    expect(refs).toContain(`<${conf.messageId}>`);
    expect(answer.header('in-reply-to')).toBe(`<${conf.messageId}>`);
    expect(w.sink.to('jefe@empresa.com').map((m) => m.subject)).toEqual([`[Caso #${number}] No puedo facturar`]);
    const d = await detail(number);
    expect(d.messages.at(-1)).toMatchObject({ role: 'consultant', internal: false, verified: true });
  });

  it('keeps forged consultant mail (right From, no signed reference, no trusted authentication) as an unverified note, tells the consultant, relays nothing', async () => {
    const { number } = await openCase();
    const before = w.sink.to(CUSTOMER).length;
    // The tag names the case; a real notification of ANOTHER consultant does not vouch for ana either.
    const toBeto = w.sink.to('beto@mesa.test')[0];
    const forged = rawMail({
      from: 'ana@mesa.test',
      fromName: 'Ana Pérez',
      subject: `RE: [Caso #${number}] No puedo facturar`,
      body: '/cerrar\nSu clave nueva es 1234, ingrese en http://phishing.example',
      references: [toBeto.messageId],
      headers: { 'Authentication-Results': 'mx.atacante.example; dmarc=pass header.from=mesa.test' },
    });
    const r = await w.ingest(forged);
    expect(r.outcome).toBe('accepted');
    await sent();
    expect(w.sink.to(CUSTOMER).length).toBe(before);
    expect(w.sink.messages.some((m) => m.text.includes('phishing'))).toBe(false);
    const d = await detail(number);
    expect(d.stage).toBe('abierto');
    expect(d.messages.at(-1)).toMatchObject({ role: 'consultant', internal: true, verified: false });
    const notice = w.sink.to('ana@mesa.test').at(-1)!;
    expect(notice.text).toContain('no se envió al cliente');
    expect(d.events.some((e) => e.type === 'consultant_unverified' && e.actor === 'ana@mesa.test')).toBe(true);
  });

  it('accepts a consultant mail authenticated by a trusted authserv-id (DMARC pass for the From domain), and only that one', async () => {
    await w.close();
    w = await mailWorld({ TRUSTED_AUTHSERV_IDS: 'mx.mesa.test' }, { start: false });
    const { number } = await openCase();
    const fresh = (ar: string, body: string) =>
      rawMail({
        from: 'ana@mesa.test',
        subject: `[Caso #${number}] No puedo facturar`,
        body,
        headers: { 'Authentication-Results': ar },
      });
    await w.ingest(fresh('mx.otro.example; dmarc=pass header.from=mesa.test', 'Texto con AR de un servidor ajeno'));
    await w.ingest(fresh('mx.mesa.test; dmarc=fail header.from=mesa.test', 'Texto con DMARC fallido'));
    await w.ingest(
      fresh(
        'mx.mesa.test;\r\n dkim=pass header.d=mesa.test header.s=s1;\r\n dmarc=pass (p=reject) header.from=mesa.test',
        'Texto autenticado de Ana',
      ),
    );
    await sent();
    const relayed = w.sink
      .to(CUSTOMER)
      .slice(1)
      .map((m) => m.text);
    expect(relayed.length).toBe(1);
    expect(relayed[0]).toContain('Texto autenticado de Ana');
  });

  it('runs commands at the top of a reply, records who and when, and relays only the rest', async () => {
    const { number, toAna } = await openCase();
    await w.ingest(
      replyTo(toAna, {
        from: 'ana@mesa.test',
        body: '/prioridad alta\n/etapa analisis\n/esperar tercero\n\nEstamos revisando con el proveedor.',
      }),
    );
    await sent();
    let d = await detail(number);
    expect(d).toMatchObject({ priority: 'alta', stage: 'analisis', waitingOn: 'tercero' });
    const cmds = d.events.filter((e) => e.type === 'command');
    expect(cmds.map((e) => [e.actor, e.reason])).toEqual([
      ['ana@mesa.test', '/prioridad alta'],
      ['ana@mesa.test', '/etapa analisis'],
      ['ana@mesa.test', '/esperar tercero'],
    ]);
    const answer = w.sink.to(CUSTOMER).at(-1)!;
    expect(answer.text).toContain('Estamos revisando con el proveedor.');
    expect(answer.text).not.toContain('/prioridad');

    // English aliases; assignment: from now on customer news go to the assignee only.
    await w.ingest(
      replyTo(toAna, { from: 'ana@mesa.test', body: '/assign beto@mesa.test\n/note\nBeto conoce este módulo.' }),
    );
    await sent();
    d = await detail(number);
    expect(d.assignee).toBe('beto@mesa.test');
    expect(d.messages.at(-1)).toMatchObject({ internal: true, bodyText: 'Beto conoce este módulo.' });
    expect(w.sink.to(CUSTOMER).at(-1)!.messageId).toBe(answer.messageId); // the note was not relayed
    expect(w.sink.to('beto@mesa.test').at(-1)!.text).toContain('Se le asignó el caso');
    const anaBefore = w.sink.to('ana@mesa.test').length;
    await w.ingest(replyTo(answer, { from: CUSTOMER, body: 'Adjunto más datos.' }));
    await sent();
    expect(w.sink.to('ana@mesa.test').length).toBe(anaBefore);
    expect(w.sink.to('beto@mesa.test').at(-1)!.text).toContain('Adjunto más datos.');
  });

  it('changes nothing on an unknown or malformed command, relays nothing, and tells the consultant what was not understood', async () => {
    const { number, toAna } = await openCase();
    const before = w.sink.to(CUSTOMER).length;
    await w.ingest(
      replyTo(toAna, {
        from: 'ana@mesa.test',
        body: '/prioridad urgentisima\n/cerrar\n/volar\nTexto que no debe salir.',
      }),
    );
    await sent();
    const d = await detail(number);
    expect(d).toMatchObject({ priority: 'media', stage: 'abierto' });
    expect(w.sink.to(CUSTOMER).length).toBe(before);
    const notice = w.sink.to('ana@mesa.test').at(-1)!;
    expect(notice.subject).toBe(`[Caso #${number}] No puedo facturar`);
    expect(notice.text).toContain('«/prioridad urgentisima»: use alta, media o baja');
    expect(notice.text).toContain('«/volar»: comando desconocido');
    expect(d.events.some((e) => e.type === 'command_rejected' && e.actor === 'ana@mesa.test')).toBe(true);
    expect(d.messages.at(-1)).toMatchObject({ internal: true, verified: true });
  });

  it('closes with a rating request, and a customer reply reopens with rotated links; consultants hear it once', async () => {
    const { number, toAna } = await openCase();
    const oldToken = linkIn(w.sink.to(CUSTOMER)[0])!;
    await w.ingest(
      replyTo(toAna, { from: 'ana@mesa.test', body: '/cerrar\nQuedó resuelto, gracias por su paciencia.' }),
    );
    await sent();
    const answer = w.sink.to(CUSTOMER).find((m) => m.text.includes('Quedó resuelto'))!;
    const closed = w.sink.to(CUSTOMER).find((m) => m.text.includes('Cerramos su caso'))!;
    expect(answer.header('auto-submitted')).toBeUndefined();
    expect(closed.text).toContain('Cerramos su caso');
    expect(closed.text).toMatch(/Calificar la solución: http:\/\/127\.0\.0\.1:8080\/caso\/\S+#calificar/);
    expect((await detail(number)).stage).toBe('cerrado');

    const anaBefore = w.sink.to('ana@mesa.test').length;
    await w.ingest(replyTo(closed, { from: CUSTOMER, body: 'Volvió a fallar esta mañana.' }));
    await sent();
    expect((await detail(number)).stage).toBe('reabierto');
    const reopened = w.sink.to(CUSTOMER).at(-1)!;
    expect(reopened.text).toContain('se reabrió');
    const newToken = linkIn(reopened)!;
    expect(newToken).not.toBe(oldToken);
    expect(await w.app.links.verifyToken(w.app.db, oldToken, Date.now())).toEqual({ ok: false, reason: 'revoked' });
    expect(await w.app.links.verifyToken(w.app.db, newToken, Date.now())).toMatchObject({ ok: true });
    const toAnaNow = w.sink.to('ana@mesa.test').slice(anaBefore);
    expect(toAnaNow.length).toBe(1);
    expect(toAnaNow[0].text).toContain('El cliente reabrió el caso');
    expect(toAnaNow[0].text).toContain('Volvió a fallar esta mañana.');
  });

  it('writes the confirmation in English with LOCALE=en', async () => {
    await w.close();
    w = await mailWorld({ LOCALE: 'en' }, { start: false });
    const { number } = await openCase();
    const conf = w.sink.to(CUSTOMER)[0];
    expect(conf.subject).toBe(`[Case #${number}] No puedo facturar`);
    expect(conf.text).toContain('We received your message');
    expect(conf.text).toContain('View my case');
    // A mail without a subject: the desk's mail says so in the desk's language, not «(sin asunto)».
    const bare = await openCase({ subject: '', messageId: 'sin-asunto@empresa.com' });
    const toCustomer = w.sink.to(CUSTOMER).at(-1)!;
    expect(toCustomer.subject).toBe(`[Case #${bare.number}] (no subject)`);
    expect(bare.toAna.subject).toBe(`[Case #${bare.number}] (no subject)`);
  });
});
