import { afterEach, describe, expect, it } from 'vitest';
import { findTicketByNumber } from '../../../src/db/repos/tickets.ts';
import type { Ticket } from '../../../src/tickets/types.ts';
import { READ_SCRIPT_HASH } from '../../../src/web/views/case-page.ts';
import {
  askLostLink,
  cookieHeader,
  fileCase,
  hidden,
  linkPath,
  messageForm,
  multipartBody,
  portalHarness,
  type PortalHarness,
} from './support.ts';
import { inUnitOfWork } from '../../../src/db/unit-of-work.ts';

/** The status page over HTTP (fastify inject against the real server, SQLite or PostgreSQL). */

let h: PortalHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const customer = 'Laura Gómez <laura@cliente.test>';

async function ticket(n: number): Promise<Ticket> {
  return (await findTicketByNumber(h!.app.db, n))!;
}

async function consultantAnswer(
  n: number,
  text: string,
  extra: { internal?: boolean; attachments?: Array<{ filename: string; sha256: string; size: number }> } = {},
) {
  const { app } = h!;
  return inUnitOfWork(app.db, async (trx) => {
    const t = (await findTicketByNumber(trx, n))!;
    return app.cases.addMessage(trx, t, {
      message: {
        role: 'consultant',
        source: 'mail',
        fromAddress: 'ana@mesa.test',
        fromName: 'Ana Pérez',
        bodyText: text,
        internal: extra.internal ?? false,
        verified: true,
        createdAt: Date.now(),
        attachments: (extra.attachments ?? []).map((a) => ({ ...a, contentType: 'application/pdf', inline: false })),
      },
      cc: [],
      threadIds: [],
      reopen: false,
    });
  });
}

async function toStage(n: number, name: 'enviar_a_pruebas' | 'cerrar') {
  const { app } = h!;
  await inUnitOfWork(app.db, async (trx) =>
    app.cases.changeStage(trx, (await findTicketByNumber(trx, n))!, name, 'ana@mesa.test', undefined, Date.now()),
  );
}

describe('status page', () => {
  it('shows the case with its conversation, strict security headers and no internal notes', async () => {
    h = await portalHarness();
    const n = await fileCase(h.app, {
      from: customer,
      subject: 'No puedo generar la factura',
      text: 'Al generar la factura sale un error 500.',
    });
    await consultantAnswer(n, 'Estamos revisando el módulo de facturación.');
    await consultantAnswer(n, 'NOTA INTERNA: el cliente debe dinero', { internal: true });
    const path = await linkPath(h.app, n, 'laura@cliente.test');
    const res = await h.server.inject({ method: 'GET', url: path });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-security-policy']).toBe(
      `default-src 'none';script-src '${READ_SCRIPT_HASH}';connect-src 'self';style-src 'self';img-src 'self' data:;form-action 'self';frame-ancestors 'none';base-uri 'none'`,
    );
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    const body = res.body;
    expect(body).toContain(`Caso #${n}`);
    expect(body).toContain('No puedo generar la factura');
    expect(body).toContain('Al generar la factura sale un error 500.');
    expect(body).toContain('Estamos revisando el módulo de facturación.');
    expect(body).toContain('>Yo<');
    expect(body).toContain('Soporte Mesa');
    expect(body).toContain('Abierto');
    expect(body).toContain('Media');
    expect(body).toContain('<label for="mensaje">Mensaje</label>');
    expect(body).not.toContain('NOTA INTERNA');
    // One script only: the read receipt's, the one the CSP's hash allows.
    expect(body.match(/<script/gi)).toHaveLength(1);
  });

  it('refuses forged and malformed tokens with the same plain 404, and stale ones with an offer of a fresh link', async () => {
    let now = Date.now();
    h = await portalHarness({ LINK_TTL_DAYS: '30' }, { clock: () => now });
    const n = await fileCase(h.app, { from: customer, subject: 'Consulta', text: 'Hola' });
    const path = await linkPath(h.app, n, 'laura@cliente.test', now);
    const token = path.split('/').pop()!;
    const [num, gen, exp, mac] = token.split('.');
    const forgedMac = `/caso/${num}.${gen}.${exp}.${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`;
    const otherCase = `/caso/${Number(num) + 1}.${gen}.${exp}.${mac}`;
    const later = `/caso/${num}.${gen}.${(parseInt(exp, 36) + 86_400).toString(36)}.${mac}`;
    const notFound = await h.server.inject({ method: 'GET', url: '/caso/no-existe' });
    expect(notFound.statusCode).toBe(404);
    // The ways forward for a customer who typed the site's address or lost the mail: the lost-link page, a mail.
    expect(notFound.body).toContain('<a href="/perdi-mi-enlace">¿Perdiste tu enlace?</a>');
    expect(notFound.body).toContain(`<a href="mailto:${h.app.config.supportAddress}">`);
    // Also what fastify's router refuses before any route (a token longer than a path segment may be, a broken
    // %-escape) and paths outside the page: the same Spanish page, not fastify's English JSON echoing the URL.
    const refusedByRouter = [
      `/caso/${token}${'A'.repeat(200)}`,
      '/caso/%zz',
      '/no-existe',
      `/${'B'.repeat(300)}/x`,
      '/',
    ];
    for (const url of [
      forgedMac,
      otherCase,
      later,
      '/caso/1',
      `/caso/${token}x`,
      `${path}/otra/cosa`,
      ...refusedByRouter,
    ]) {
      const res = await h.server.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['content-type'], url).toBe('text/html; charset=utf-8');
      expect(res.body, url).toBe(notFound.body);
    }
    // Expired: the clock moves past the link's life.
    now += 31 * 86_400_000;
    const expired = await h.server.inject({ method: 'GET', url: path });
    expect(expired.statusCode).toBe(410);
    expect(expired.body).toContain('Enviarme un enlace nuevo');
    expect(expired.body).not.toContain('Consulta');
    // Revoked: a fresh link is valid until the case's links are revoked.
    const fresh = await linkPath(h.app, n, 'laura@cliente.test', now);
    expect((await h.server.inject({ method: 'GET', url: fresh })).statusCode).toBe(200);
    await h.app.links.revokeCaseLinks(h.app.db, (await ticket(n)).id, now);
    expect((await h.server.inject({ method: 'GET', url: fresh })).statusCode).toBe(410);
  });

  it('sends a fresh link for a stale one, to the case address, rate-limited per case', async () => {
    let now = Date.now();
    h = await portalHarness({ LINK_TTL_DAYS: '30', WEB_LINK_REQUESTS_PER_CASE: '2' }, { clock: () => now });
    const n = await fileCase(h.app, { from: customer, subject: 'Consulta', text: 'Hola' });
    const path = await linkPath(h.app, n, 'laura@cliente.test', now);
    now += 31 * 86_400_000;
    const stale = await h.server.inject({ method: 'GET', url: path });
    const cookies = cookieHeader(stale);
    const csrf = hidden(stale.body, '_csrf');
    const ask = () =>
      h!.server.inject({
        method: 'POST',
        url: `${path}/enlace-nuevo`,
        headers: { cookie: cookies },
        payload: { _csrf: csrf },
      });
    const first = await ask();
    expect(first.statusCode).toBe(200);
    expect(first.body).toContain('enviamos un enlace nuevo');
    const t = await ticket(n);
    const rows = await h.app
      .db('links')
      .where({ ticket_id: t.id, recipient: 'laura@cliente.test' })
      .orderBy('generation');
    expect(rows.length).toBe(2);
    expect(Number(rows[1].expires_at)).toBeGreaterThan(now);
    // The fresh link goes out by mail (outbox), to the case's address only.
    const mails = await h.app.db('outbox').where({ ticket_id: t.id, kind: 'link_fresh' });
    expect(mails.map((m: any) => m.recipient)).toEqual(['laura@cliente.test']);
    expect((await ask()).statusCode).toBe(200);
    expect((await ask()).statusCode).toBe(429);
    // Without the form's CSRF token nothing is sent.
    expect(
      (await h.server.inject({ method: 'POST', url: `${path}/enlace-nuevo`, payload: { _csrf: 'x' } })).statusCode,
    ).toBe(403);
  });

  it('adds a message once per form (double submit), only with a valid CSRF token, and tells the consultants', async () => {
    h = await portalHarness();
    const n = await fileCase(h.app, { from: customer, subject: 'Reporte', text: 'Inicio' });
    const path = await linkPath(h.app, n, 'laura@cliente.test');
    const page = await h.server.inject({ method: 'GET', url: path });
    const cookies = cookieHeader(page);
    const { action, csrf, nonce } = messageForm(page.body);
    expect(action.startsWith(`${path}/mensaje?_csrf=`)).toBe(true);
    const form = (url: string, fields: Record<string, string>) => {
      const { contentType, payload } = multipartBody(fields, [{ filename: 'log.txt', content: 'linea 1\nlinea 2' }]);
      return h!.server.inject({
        method: 'POST',
        url,
        headers: { cookie: cookies, 'content-type': contentType },
        payload,
      });
    };
    const send = () => form(action, { nonce, mensaje: 'Adjunto el log del error.' });
    const [a, b] = await Promise.all([send(), send()]);
    expect([a.statusCode, b.statusCode]).toEqual([303, 303]);
    expect((await send()).statusCode).toBe(303);
    const t = await ticket(n);
    const webMessages = await h.app.db('messages').where({ ticket_id: t.id, source: 'web' });
    expect(webMessages.length).toBe(1);
    expect(webMessages[0].body_text).toBe('Adjunto el log del error.');
    expect(webMessages[0].from_address).toBe('laura@cliente.test');
    const atts = await h.app.db('attachments').where({ message_id: webMessages[0].id });
    expect(atts.map((x: any) => x.filename)).toEqual(['log.txt']);
    expect((await h.app.blobs.get(atts[0].sha256)).toString()).toBe('linea 1\nlinea 2');
    // The consultants are told through the same outbox as for a mail.
    const outbox = await h.app
      .db('outbox')
      .where({ ticket_id: t.id })
      .whereIn('recipient', ['ana@mesa.test', 'beto@mesa.test']);
    expect(outbox.length).toBeGreaterThanOrEqual(4); // the new case and this follow-up, to both consultants
    // A forged CSRF token is refused, and so is the right one in the body instead of the URL (it is checked before
    // the body is read).
    const other = 'bbbbbbbbbbbbbbbbbbbbbbbb';
    expect((await form(`${path}/mensaje?_csrf=nope`, { nonce: other, mensaje: 'otro' })).statusCode).toBe(403);
    const inBody = await form(`${path}/mensaje`, { _csrf: csrf, nonce: other, mensaje: 'otro' });
    expect(inBody.statusCode).toBe(403);
    expect(inBody.body).toContain('El formulario caducó');
    expect((await h.app.db('messages').where({ ticket_id: t.id, source: 'web' })).length).toBe(1);
    // Nothing written and no file: the form says what is missing, and nothing is added.
    const fresh = messageForm((await h.server.inject({ method: 'GET', url: path, headers: { cookie: cookies } })).body);
    const blank = multipartBody({ nonce: fresh.nonce, mensaje: '  \n ' }, []);
    const empty = await h.server.inject({
      method: 'POST',
      url: fresh.action,
      headers: { cookie: cookies, 'content-type': blank.contentType },
      payload: blank.payload,
    });
    expect(empty.statusCode).toBe(400);
    expect(empty.body).toContain('Escribe un mensaje o adjunta un archivo.');
    expect((await h.app.db('messages').where({ ticket_id: t.id, source: 'web' })).length).toBe(1);
  });

  it('keeps an uploaded file under its own name, without path or invisible characters', async () => {
    h = await portalHarness();
    const n = await fileCase(h.app, { from: customer, subject: 'Cotización', text: 'Inicio' });
    const path = await linkPath(h.app, n, 'laura@cliente.test');
    const page = await h.server.inject({ method: 'GET', url: path });
    const { action, nonce } = messageForm(page.body);
    // An old browser's full path, and a right-to-left override that would show «cotizaciónexe.pdf» to a consultant.
    const { contentType, payload } = multipartBody({ nonce, mensaje: 'Adjunto la cotización.' }, [
      { filename: 'C:\\Users\\laura\\cotización\u202Efdp.exe', content: 'MZ' },
      { filename: '\u200B\u2066', content: 'x' },
    ]);
    const res = await h.server.inject({
      method: 'POST',
      url: action,
      headers: { cookie: cookieHeader(page), 'content-type': contentType },
      payload,
    });
    expect(res.statusCode).toBe(303);
    const t = await ticket(n);
    const [message] = await h.app.db('messages').where({ ticket_id: t.id, source: 'web' });
    const atts = await h.app.db('attachments').where({ message_id: message.id }).orderBy('id');
    expect(atts.map((x: { filename: string }) => x.filename)).toEqual(['cotizaciónfdp.exe', 'adjunto']);
  });

  it('names a case without a subject «(sin asunto)» on its page', async () => {
    h = await portalHarness();
    const n = await fileCase(h.app, { from: customer, subject: '', text: 'Ayuda.' });
    const page = await h.server.inject({ method: 'GET', url: await linkPath(h.app, n, 'laura@cliente.test') });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<span class="subject">(sin asunto)</span></h1>');
    expect(page.body).toContain(`<title>Caso #${n} (sin asunto)`);
  });

  it('shows a stored attachment name without invisible characters, on the page, the download and the answer', async () => {
    h = await portalHarness();
    const n = await fileCase(h.app, { from: customer, subject: 'Manual', text: 'Envíenme el manual' });
    // Written straight through the case service, as rows stored before names were cleaned on the way in.
    const sha = await h.app.blobs.put(Buffer.from('MZ'));
    await consultantAnswer(n, 'Va el manual.', {
      attachments: [{ filename: 'manual\u202Efdp.exe', sha256: sha, size: 2 }],
    });
    const page = await h.server.inject({ method: 'GET', url: await linkPath(h.app, n, 'laura@cliente.test') });
    expect(page.body).toMatch(/download>manualfdp\.exe<\/a>/);
    expect(page.body).not.toContain('\u202E');
    const href = /href="([^"]+\/adjuntos\/\d+)" download>manualfdp/.exec(page.body)![1];
    const file = await h.server.inject({ method: 'GET', url: href });
    expect(file.headers['content-disposition']).toMatch(/^attachment; filename="manualfdp\.exe"/);
    const answer = await h.app.db('outbox').where({ kind: 'answer', recipient: 'laura@cliente.test' }).first();
    expect(answer.mail_json).toContain('manualfdp.exe');
    expect(answer.mail_json).not.toContain('\u202E');
  });

  it('serves attachments of the case only, as downloads', async () => {
    h = await portalHarness();
    const n = await fileCase(h.app, {
      from: customer,
      subject: 'Con adjunto',
      text: 'Va el archivo',
      attachments: [{ filename: 'captura "1".html', content: '<script>alert(1)</script>', contentType: 'text/html' }],
    });
    const other = await fileCase(h.app, {
      from: 'otro@cliente.test',
      subject: 'Ajeno',
      text: 'x',
      attachments: [{ filename: 'ajeno.pdf', content: Buffer.from('%PDF-1.4 ajeno'), contentType: 'application/pdf' }],
    });
    const secret = await h.app.blobs.put(Buffer.from('interno'));
    const note = await consultantAnswer(n, 'nota', {
      internal: true,
      attachments: [{ filename: 'interno.pdf', sha256: secret, size: 7 }],
    });
    const path = await linkPath(h.app, n, 'laura@cliente.test');
    const page = await h.server.inject({ method: 'GET', url: path });
    const href = /href="([^"]+\/adjuntos\/(\d+))"/.exec(page.body)!;
    const res = await h.server.inject({ method: 'GET', url: href[1] });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="captura \\"1\\".html"/);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.headers['content-security-policy']).toBe("default-src 'none'; sandbox");
    expect(res.body).toBe('<script>alert(1)</script>');
    const foreign = await h.app
      .db('attachments')
      .join('messages', 'messages.id', 'attachments.message_id')
      .where('messages.ticket_id', (await ticket(other)).id)
      .first('attachments.id');
    const internal = await h.app.db('attachments').where({ message_id: note.messageRowId }).first('id');
    for (const id of [foreign.id, internal.id, 999999]) {
      expect((await h.server.inject({ method: 'GET', url: `${path}/adjuntos/${id}` })).statusCode).toBe(404);
    }
  });

  it('VoBo closes a case in testing; "insatisfactoria" needs a comment and reopens it, telling support', async () => {
    h = await portalHarness();
    const n = await fileCase(h.app, { from: customer, subject: 'Solución', text: 'Hola' });
    const path = await linkPath(h.app, n, 'laura@cliente.test');
    expect((await h.server.inject({ method: 'GET', url: path })).body).not.toContain('Solución satisfactoria');
    await toStage(n, 'enviar_a_pruebas');
    const rate = async (verdict: string, comment: string) => {
      const page = await h!.server.inject({ method: 'GET', url: path });
      expect(page.body).toContain('Solución insatisfactoria');
      const section = page.body.slice(page.body.indexOf('id="calificar"'));
      return h!.server.inject({
        method: 'POST',
        url: `${path}/calificacion`,
        headers: { cookie: cookieHeader(page) },
        payload: {
          _csrf: hidden(section, '_csrf'),
          nonce: hidden(section, 'nonce'),
          veredicto: verdict,
          comentario: comment,
        },
      });
    };
    const missing = await rate('insatisfactoria', '  ');
    expect(missing.statusCode).toBe(400);
    expect(missing.body).toContain('Cuéntanos qué falta');
    expect((await ticket(n)).stage).toBe('pruebas');
    // A comment over the limit is refused with its length and kept in the form, never cut.
    const long = await rate('insatisfactoria', 'x'.repeat(50_001));
    expect(long.statusCode).toBe(413);
    expect(long.body).toContain('El texto es demasiado largo (50.001 caracteres): el límite es 50.000 caracteres.');
    expect(long.body).toContain(`>${'x'.repeat(50_001)}</textarea>`);
    expect((await ticket(n)).stage).toBe('pruebas');
    const bad = await rate('insatisfactoria', 'Sigue saliendo el error 500.');
    expect(bad.statusCode).toBe(303);
    let t = await ticket(n);
    expect(t.stage).toBe('reabierto');
    expect(t.rating).toBe('insatisfactoria');
    expect((await h.app.db('messages').where({ ticket_id: t.id, source: 'web' }).first()).body_text).toBe(
      'Sigue saliendo el error 500.',
    );
    await toStage(n, 'enviar_a_pruebas');
    const good = await rate('satisfactoria', 'Gracias, funciona.');
    expect(good.statusCode).toBe(303);
    expect(good.headers.location).toContain('aviso=vobo');
    t = await ticket(n);
    expect(t.stage).toBe('cerrado');
    expect(t.rating).toBe('satisfactoria');
    expect(t.ratingComment).toBe('Gracias, funciona.');
    const after = await h.server.inject({ method: 'GET', url: good.headers.location as string });
    expect(after.body).toContain('Registramos tu visto bueno');
    expect(after.body).not.toContain('<label for="mensaje">');
  });

  it('answers "lost my link" the same way whether or not the address has cases', async () => {
    h = await portalHarness();
    await fileCase(h.app, { from: customer, subject: 'Abierto', text: 'x' });
    const ask = async (correo: string) => {
      const { form, reply } = await askLostLink(h!.server, correo);
      expect(form.body).toContain('<label for="correo">Correo electrónico</label>');
      return reply;
    };
    const known = await ask('laura@cliente.test');
    const unknown = await ask('nadie@cliente.test');
    expect(known.statusCode).toBe(200);
    expect(unknown.body).toBe(known.body);
    // In the page's own voice («tú»), as the form that asked.
    expect(known.body).toContain('Si ese correo tiene casos abiertos, te enviamos los enlaces. Revisa tu bandeja');
    // Only the address with an open case gets mail: its links.
    const lost = await h.app.db('outbox').where({ kind: 'link_lost' });
    expect(lost.map((m: any) => m.recipient)).toEqual(['laura@cliente.test']);
    expect((await ask('no es un correo')).statusCode).toBe(400);
  });

  it('exposes Prometheus metrics from the database', async () => {
    h = await portalHarness();
    await fileCase(h.app, { from: customer, subject: 'Uno', text: 'x' });
    await fileCase(h.app, { from: 'otro@cliente.test', subject: 'Dos', text: 'y' });
    const res = await h.server.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toContain('mesa_mails_ingested_total{outcome="accepted"} 2');
    expect(res.body).toContain('mesa_open_cases{priority="media"} 2');
    expect(res.body).toMatch(/mesa_outbox_messages\{state="pending"\} \d+/);
  });
});

describe('status page logging', () => {
  it('never writes a magic-link token to the log, whatever the request', async () => {
    const { PassThrough } = await import('node:stream');
    const { createApp } = await import('../../../src/app.ts');
    const { createLogger } = await import('../../../src/logger.ts');
    const { buildServer } = await import('../../../src/web/server.ts');
    const { testConfig } = await import('../../support/app.ts');
    const sink = new PassThrough();
    let log = '';
    sink.on('data', (c) => (log += c.toString()));
    const app = await createApp(await testConfig(), createLogger({ level: 'trace', destination: sink }));
    const server = buildServer(app);
    await server.ready();
    try {
      const n = await fileCase(app, { from: customer, subject: 'Logs', text: 'x' });
      const path = await linkPath(app, n, 'laura@cliente.test');
      const token = path.split('/').pop()!;
      await server.inject({ method: 'GET', url: path });
      await server.inject({ method: 'GET', url: `${path}/adjuntos/12345` });
      await server.inject({ method: 'GET', url: `${path}/no/existe` });
      await server.inject({ method: 'POST', url: `${path}/mensaje`, payload: { _csrf: 'malo', nonce: 'x' } });
      await server.inject({
        method: 'POST',
        url: `${path}/calificacion`,
        headers: { 'content-type': 'application/json' },
        payload: '{"roto":',
      });
      await server.inject({ method: 'GET', url: `/caso/${token.slice(0, -2)}zz` });
      expect(log.length).toBeGreaterThan(0);
      expect(log).not.toContain(token);
      expect(log).not.toContain(token.split('.').pop()!);
    } finally {
      await server.close();
      await app.close();
    }
  });
});
