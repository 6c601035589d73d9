import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { caseDetail } from '../../../src/services/case-view.ts';
import { buildServer } from '../../../src/web/server.ts';
import { cookieHeader, hidden, linkPath } from '../web/support.ts';
import { rawMail, replyTo } from './fixtures.ts';
import { type MailWorld, mailWorld } from '../../support/worlds.ts';

/**
 * The knowledge base through the real paths: a consultant publishes a solved case by mail (/publicar), only once
 * the customer accepted the solution; the article carries no note and no personal data; customers find it on the
 * page (search, product filter, "ver todo") and in the confirmation of a similar new case; consultants get similar
 * solved cases in the new-case mail.
 */
const CUSTOMER = 'carla@empresa.com';
let w: MailWorld;
const sent = () => w.app.outbound.dispatcher.drain();
const detail = async (n: number) => (await caseDetail(w.app.db, n, { includeInternal: true }))!;

async function solvedCase() {
  const r = await w.ingest(
    rawMail({
      from: CUSTOMER,
      fromName: 'Carla Ríos',
      subject: 'Factura electrónica rechazada por la DIAN',
      body: 'Hola, la DIAN rechaza todas las facturas desde ayer.\nCarla Ríos\nCalle 45 # 12-30, Bogotá\nTel. 310 555 1234',
    }),
  );
  await sent();
  const number = r.ticketNumber!;
  const toAna = w.sink.to('ana@mesa.test').at(-1)!;
  await w.ingest(
    replyTo(toAna, { from: 'ana@mesa.test', body: '/nota\nNOTA INTERNA: el cliente debe dos meses de soporte.' }),
  );
  await w.ingest(
    replyTo(toAna, {
      from: 'ana@mesa.test',
      body: '/cerrar\nHola Carla, la resolución de numeración estaba vencida: cargamos la nueva resolución en Parámetros > Numeración y reenviamos las facturas. Si necesita algo, escríbanos a carla@empresa.com o al 310 555 1234.',
    }),
  );
  await sent();
  return { number, toAna };
}

async function rateSatisfied(number: number) {
  const server = buildServer(w.app);
  try {
    const path = await linkPath(w.app, number, CUSTOMER);
    const page = await server.inject({ method: 'GET', url: path });
    const section = page.body.slice(page.body.indexOf('id="calificar"'));
    const res = await server.inject({
      method: 'POST',
      url: `${path}/calificacion`,
      headers: { cookie: cookieHeader(page) },
      payload: {
        _csrf: hidden(section, '_csrf'),
        nonce: hidden(section, 'nonce'),
        veredicto: 'satisfactoria',
        comentario: '',
      },
    });
    expect(res.statusCode).toBe(303);
  } finally {
    await server.close();
  }
}

describe('knowledge base', () => {
  beforeEach(async () => {
    w = await mailWorld({}, { start: false });
  });
  afterEach(async () => {
    await w.close();
  });

  it('refuses to publish a case the customer has not accepted, and says why to the consultant', async () => {
    const { number, toAna } = await solvedCase();
    await w.ingest(replyTo(toAna, { from: 'ana@mesa.test', body: '/publicar' }));
    await sent();
    const notice = w.sink.to('ana@mesa.test').at(-1)!;
    expect(notice.text).toContain(
      '«/publicar»: solo se publican casos cerrados con el visto bueno o una calificación satisfactoria del cliente',
    );
    expect((await detail(number)).events.some((e) => e.type === 'published')).toBe(false);
    expect(Number((await w.app.db('kb_articles').count({ n: '*' }).first())!.n)).toBe(0);
  });

  it('publishes from the final answer without personal data or notes, and customers find it on the page', async () => {
    const { number, toAna } = await solvedCase();
    await rateSatisfied(number);
    const before = w.sink.to(CUSTOMER).length;
    await w.ingest(replyTo(toAna, { from: 'ana@mesa.test', body: '/publicar' }));
    await sent();
    expect(w.sink.to(CUSTOMER).length).toBe(before); // the command mail is not relayed
    const [article] = await w.app.db('kb_articles').select('*');
    expect(article.title).toBe('Factura electrónica rechazada por la DIAN');
    expect(article.body).toContain('la resolución de numeración estaba vencida');
    for (const secret of ['Carla', 'carla@empresa.com', '310 555 1234', 'NOTA INTERNA', 'debe dos meses'])
      expect(article.body).not.toContain(secret);
    expect((await detail(number)).events.find((e) => e.type === 'published')).toMatchObject({ actor: 'ana@mesa.test' });

    // Another customer of another organization finds it with other words, accents and plurals.
    const other = await w.ingest(
      rawMail({
        from: 'luis@otra.com',
        subject: 'facturas electronicas rechazadas',
        body: 'La dian nos rechaza las facturas.',
      }),
    );
    await sent();
    const server = buildServer(w.app);
    try {
      const base = await linkPath(w.app, other.ticketNumber!, 'luis@otra.com');
      const found = await server.inject({
        method: 'GET',
        url: `${base}/conocimiento?q=${encodeURIComponent('facturacion electronica rechazo')}`,
      });
      expect(found.statusCode).toBe(200);
      expect(found.body).toContain('1 solución para «facturacion electronica rechazo»');
      const href = new RegExp(`href="(${base}/conocimiento/\\d+)"`).exec(found.body)![1];
      const page = await server.inject({ method: 'GET', url: href });
      expect(page.body).toContain('<h1>Factura electrónica rechazada por la DIAN</h1>');
      expect(page.body).not.toContain('NOTA INTERNA');
      const all = await server.inject({ method: 'GET', url: `${base}/conocimiento` });
      expect(all.body).toContain('1 solución publicada');
      expect(all.body).toContain('<label for="kb-q">');
      const none = await server.inject({ method: 'GET', url: `${base}/conocimiento?q=impresora%20termica` });
      expect(none.body).toContain('No encontramos soluciones publicadas');
      expect((await server.inject({ method: 'GET', url: `${base}/conocimiento/999999` })).statusCode).toBe(404);
      expect((await server.inject({ method: 'GET', url: '/caso/1.1.abc.def/conocimiento' })).statusCode).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('suggests published solutions in the confirmation and similar solved cases to the consultants', async () => {
    const { number, toAna } = await solvedCase();
    await rateSatisfied(number);
    await w.ingest(
      replyTo(toAna, {
        from: 'ana@mesa.test',
        body: '/publicar Cómo resolver el rechazo de la DIAN por resolución vencida\nLa resolución de numeración vence: cargue la nueva en Parámetros > Numeración y reenvíe las facturas rechazadas.',
      }),
    );
    const [article] = await w.app.db('kb_articles').select('*');
    expect(article.title).toBe('Cómo resolver el rechazo de la DIAN por resolución vencida');
    expect(article.body).toBe(
      'La resolución de numeración vence: cargue la nueva en Parámetros > Numeración y reenvíe las facturas rechazadas.',
    );

    const r = await w.ingest(
      rawMail({
        from: 'luis@otra.com',
        subject: 'La DIAN rechazó nuestras facturas electronicas',
        body: 'Desde hoy todas salen rechazadas.',
      }),
    );
    await sent();
    const confirmation = w.sink.to('luis@otra.com').at(-1)!;
    expect(confirmation.text).toContain('¿Le sirve alguna de estas soluciones?');
    expect(confirmation.text).toMatch(
      /- Cómo resolver el rechazo de la DIAN por resolución vencida: http:\/\/127\.0\.0\.1:8080\/caso\/\S+\/conocimiento\/\d+/,
    );
    const toConsultant = w.sink.to('beto@mesa.test').find((m) => m.subject.includes(`#${r.ticketNumber}`))!;
    expect(toConsultant.text).toContain('Casos resueltos parecidos:');
    expect(toConsultant.text).toMatch(
      new RegExp(`#${number} Factura electrónica rechazada por la DIAN: http://127\\.0\\.0\\.1:8080/caso/\\S+`),
    );

    // An unrelated new case gets no suggestion.
    await w.ingest(
      rawMail({ from: 'luis@otra.com', subject: 'Licencia vencida', body: 'Sale que la licencia expiró.' }),
    );
    await sent();
    expect(w.sink.to('luis@otra.com').at(-1)!.text).not.toContain('¿Le sirve alguna');
  });
});
