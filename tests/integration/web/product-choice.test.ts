import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { caseDetail } from '../../../src/services/case-view.ts';
import { buildServer } from '../../../src/web/server.ts';
import { rawMail, replyTo } from '../outbound/fixtures.ts';
import { type MailWorld, mailWorld } from '../../support/worlds.ts';
import { cookieHeader, linkPath, messageForm } from './support.ts';

/**
 * The customer's choice of product on the case page (issue 27), through the real ingest path, the real web server
 * (fastify inject) and a real SMTP sink: only the customer's own link chooses, only from the catalogue, recorded as
 * `/producto` records it, then shown on the page and in the consultants' later mails; a consultant still corrects it.
 */
const PRODUCTS_FILE = path.join(import.meta.dirname, '../../fixtures/products/productos.yaml');
const CUSTOMER = 'carla@empresa.com';
let w: MailWorld;
let server: FastifyInstance;
const sent = () => w.app.outbound.dispatcher.drain();
const detail = async (n: number) => (await caseDetail(w.app.db, n, { includeInternal: true }))!;

beforeEach(async () => {
  w = await mailWorld({ PRODUCTS_FILE }, { start: false });
  server = buildServer(w.app);
  await server.ready();
});
afterEach(async () => {
  await server.close();
  await w.close();
});

/** A case whose subject names no product: the confirmation asks, and the page offers the choice. */
async function unknownProductCase(subject = 'Informes de fin de mes vacíos') {
  const r = await w.ingest(rawMail({ from: CUSTOMER, fromName: 'Carla Ríos', subject, body: 'Hola,\nsalen vacíos.' }));
  await sent();
  const number = r.ticketNumber!;
  return { number, toAna: w.sink.to('ana@mesa.test').at(-1)!, page: await linkPath(w.app, number, CUSTOMER) };
}

/** The page as a browser gets it, then the product form posted with its cookie and CSRF token. */
async function choose(pagePath: string, fields: Record<string, string>, postTo = pagePath) {
  const page = await server.inject({ method: 'GET', url: pagePath });
  const payload = { _csrf: messageForm(page.body).csrf, ...fields };
  return server.inject({ method: 'POST', url: `${postTo}/producto`, headers: { cookie: cookieHeader(page) }, payload });
}

describe('product choice on the case page', () => {
  it('offers the catalogue to the customer, records the choice as an event, then shows it and stops offering', async () => {
    const { number, page } = await unknownProductCase();
    const before = await server.inject({ method: 'GET', url: page });
    expect(before.body).toContain('<label for="producto-modulo">Producto y módulo</label>');
    expect(before.body).toContain('<optgroup label="Nómina">');
    expect(before.body).toMatch(/<option value="Nómina::Vacaciones"\s*>Nómina · Vacaciones<\/option>/);
    expect(before.body).toContain('<label for="version">Versión (opcional)</label>');

    const res = await choose(page, { producto: 'Nómina::Vacaciones', version: '4.2' });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(`${page}?aviso=producto`);
    const d = await detail(number);
    expect(d).toMatchObject({ product: 'Nómina', productModule: 'Vacaciones', productVersion: '4.2' });
    expect(d.events.filter((e) => e.type === 'product_changed')).toMatchObject([
      { actor: CUSTOMER, from: null, to: 'Nómina · Vacaciones · v4.2' },
    ]);
    const after = await server.inject({ method: 'GET', url: `${page}?aviso=producto` });
    expect(after.body).toMatch(/<dt>Producto<\/dt>\s*<dd>Nómina · Vacaciones · v4.2<\/dd>/);
    expect(after.body).toContain('Registramos el producto de tu caso');
    expect(after.body).not.toContain('name="producto"');

    // Submitted again (reload after POST): nothing more is recorded; another choice is refused, the page says which
    // one stands.
    expect((await choose(page, { producto: 'Nómina::Vacaciones', version: '4.2' })).statusCode).toBe(303);
    const another = await choose(page, { producto: 'POS::Cajas', version: '' });
    expect(another.statusCode).toBe(409);
    expect(another.body).toContain('Este caso ya tiene producto: Nómina · Vacaciones · v4.2.');
    expect(another.body).not.toContain('name="producto"');
    expect((await detail(number)).events.filter((e) => e.type === 'product_changed')).toHaveLength(1);
  });

  it("shows the chosen product in the consultants' later mails, and a consultant's /producto still corrects it", async () => {
    const { number, toAna, page } = await unknownProductCase();
    expect(toAna.text).toContain('Producto: sin identificar (use /producto)');
    expect((await choose(page, { producto: 'Contabilidad::Informes', version: '' })).statusCode).toBe(303);
    await w.ingest(replyTo(w.sink.to(CUSTOMER).at(-1)!, { from: CUSTOMER, body: 'Adjunto otro ejemplo del informe.' }));
    await sent();
    expect(w.sink.to('ana@mesa.test').at(-1)!.text).toContain('Producto: Contabilidad · Informes');

    await w.ingest(replyTo(toAna, { from: 'ana@mesa.test', body: '/producto NÓMINA 4.2\nEs de nómina.' }));
    await sent();
    const d = await detail(number);
    expect(d).toMatchObject({ product: 'Nómina', productModule: null, productVersion: '4.2' });
    expect(d.events.filter((e) => e.type === 'product_changed').map((e) => [e.actor, e.to])).toEqual([
      [CUSTOMER, 'Contabilidad · Informes'],
      ['ana@mesa.test', 'Nómina · v4.2'],
    ]);
  });

  it("refuses a consultant's link, another case's form, and values outside the catalogue, in Spanish", async () => {
    const { number, page } = await unknownProductCase();
    const other = await unknownProductCase('Pantalla en blanco al entrar');

    const consultantPage = await linkPath(w.app, number, 'ana@mesa.test');
    expect((await server.inject({ method: 'GET', url: consultantPage })).body).not.toContain('name="producto"');
    const byConsultant = await choose(consultantPage, { producto: 'POS::Cajas', version: '' });
    expect(byConsultant.statusCode).toBe(403);
    expect(byConsultant.body).toContain('Solo el cliente elige el producto desde su enlace');

    // The other case's page and token, posted to this case: the CSRF token is bound to the link it was made for.
    expect((await choose(other.page, { producto: 'POS::Cajas', version: '' }, page)).statusCode).toBe(403);

    const outside = await choose(page, { producto: 'Zapatería', version: '' });
    expect(outside.statusCode).toBe(400);
    expect(outside.body).toContain('«Zapatería» no está en el catálogo de productos. Elige uno de la lista.');
    expect(outside.body).toContain('aria-invalid="true"');
    const otherModule = await choose(page, { producto: 'POS::Vacaciones', version: '' });
    expect(otherModule.body).toContain('«POS::Vacaciones» no está en el catálogo de productos');
    const badVersion = await choose(page, { producto: 'POS::Cajas', version: '9.9' });
    expect(badVersion.statusCode).toBe(400);
    expect(badVersion.body).toContain('La versión «9.9» no está en el catálogo de POS (versiones: 1.5, 2.0).');
    // The choice is kept beside the error, so the customer fixes only the version.
    expect(badVersion.body).toMatch(/<option value="POS::Cajas"\s+selected>/);

    for (const n of [number, other.number]) {
      const d = await detail(n);
      expect(d.product).toBeNull();
      expect(d.events.some((e) => e.type === 'product_changed')).toBe(false);
    }
  });
});
