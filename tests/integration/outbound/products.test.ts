import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { caseDetail } from '../../../src/services/case-view.ts';
import { buildServer } from '../../../src/web/server.ts';
import { linkPath } from '../web/support.ts';
import { rawMail, replyTo } from './fixtures.ts';
import { type MailWorld, mailWorld } from '../../support/worlds.ts';

/**
 * Product, module and version on the case, through the real ingest path and a real SMTP sink: read from the
 * subject, asked for when unknown, answered by the customer, set or corrected by a consultant's /producto.
 */
const PRODUCTS_FILE = path.join(import.meta.dirname, '../../fixtures/products/productos.yaml');
const CUSTOMER = 'carla@empresa.com';
let w: MailWorld;
const sent = () => w.app.outbound.dispatcher.drain();
const detail = async (n: number) => (await caseDetail(w.app.db, n, { includeInternal: true }))!;

async function openCase(subject: string, body = 'Hola,\nadjunto el detalle.\nGracias') {
  const r = await w.ingest(rawMail({ from: CUSTOMER, fromName: 'Carla Ríos', subject, body }));
  expect(r.outcome).toBe('accepted');
  await sent();
  return {
    number: r.ticketNumber!,
    confirmation: w.sink.to(CUSTOMER).at(-1)!,
    toAna: w.sink.to('ana@mesa.test').at(-1)!,
  };
}

describe('product, module and version on the case', () => {
  beforeEach(async () => {
    w = await mailWorld({ PRODUCTS_FILE }, { start: false });
  });
  afterEach(async () => {
    await w.close();
  });

  it('reads them from the subject when the case opens and shows them to the customer and the consultants', async () => {
    const { number, confirmation, toAna } = await openCase('BANCOS, Factura mal cargada en la versión 4.2');
    expect(await detail(number)).toMatchObject({
      product: 'Contabilidad',
      productModule: 'Bancos',
      productVersion: '4.2',
    });
    expect(confirmation.text).toContain('Producto: Contabilidad · Bancos · v4.2');
    expect(confirmation.text).not.toContain('No pudimos saber de qué producto');
    expect(toAna.text).toContain('Producto: Contabilidad · Bancos · v4.2');
    expect(toAna.html).toContain('Contabilidad · Bancos · v4.2');
    expect(toAna.text).toContain('/producto NÓMINA 4.2');

    // And on the case page.
    const server = buildServer(w.app);
    try {
      const page = await server.inject({ method: 'GET', url: await linkPath(w.app, number, CUSTOMER) });
      expect(page.body).toMatch(/<dt>Producto<\/dt><dd>Contabilidad · Bancos · v4.2<\/dd>/);
    } finally {
      await server.close();
    }
  });

  it("asks which product when it cannot tell, and takes the customer's short answer", async () => {
    const { number, confirmation, toAna } = await openCase('Informes de fin de mes vacíos');
    expect((await detail(number)).product).toBeNull();
    expect(confirmation.text).toContain('No pudimos saber de qué producto o módulo es su caso');
    expect(confirmation.text).toContain(
      'Nómina (Liquidación, Vacaciones, Seguridad social, Prestaciones sociales, Informes)',
    );
    expect(confirmation.html).toContain('No pudimos saber de qué producto');
    expect(toAna.text).toContain('Producto: sin identificar (use /producto)');
    const d0 = await detail(number);
    expect(d0.events.find((e) => e.type === 'case_opened')).toBeTruthy();

    await w.ingest(
      replyTo(confirmation, {
        from: CUSTOMER,
        body: 'Es del módulo de Nómina, versión 4.0\n\nLos informes salen sin datos.',
      }),
    );
    const d = await detail(number);
    expect(d).toMatchObject({ product: 'Nómina', productModule: null, productVersion: '4.0' });
    expect(d.events.find((e) => e.type === 'product_changed')).toMatchObject({
      actor: CUSTOMER,
      from: null,
      to: 'Nómina · v4.0',
    });
  });

  it('does not ask when the subject ask already asks for the module, nor read a long answer as one', async () => {
    const { number, confirmation } = await openCase('URGENTE');
    expect(confirmation.text).toContain('el módulo y el problema');
    expect(confirmation.text).not.toContain('No pudimos saber de qué producto');
    await w.ingest(
      replyTo(confirmation, {
        from: CUSTOMER,
        body: 'Desde ayer cuando intento cerrar el mes en nómina la pantalla se queda en blanco y no avanza',
      }),
    );
    expect((await detail(number)).product).toBeNull();
  });

  it('lets a consultant set or correct them with /producto, and refuses a product outside the catalogue', async () => {
    const { number, toAna } = await openCase('CARTERA, intereses de mora mal');
    expect((await detail(number)).productModule).toBe('Cartera');
    await w.ingest(
      replyTo(toAna, { from: 'ana@mesa.test', body: '/producto NÓMINA 4.2\nLo revisamos con el equipo de nómina.' }),
    );
    await sent();
    let d = await detail(number);
    expect(d).toMatchObject({ product: 'Nómina', productModule: null, productVersion: '4.2' });
    expect(d.events.filter((e) => e.type === 'command').map((e) => e.reason)).toEqual(['/producto NÓMINA 4.2']);
    expect(d.events.find((e) => e.type === 'product_changed')).toMatchObject({
      actor: 'ana@mesa.test',
      from: 'Contabilidad · Cartera',
      to: 'Nómina · v4.2',
    });
    const answer = w.sink.to(CUSTOMER).at(-1)!;
    expect(answer.text).toContain('Lo revisamos con el equipo de nómina.');
    expect(answer.text).not.toContain('/producto');

    await w.ingest(replyTo(toAna, { from: 'ana@mesa.test', body: '/producto Zapatería\nTexto que no sale.' }));
    await w.ingest(replyTo(toAna, { from: 'ana@mesa.test', body: '/modulo informes\nTexto que no sale.' }));
    await sent();
    d = await detail(number);
    expect(d).toMatchObject({ product: 'Nómina', productVersion: '4.2' });
    // Sent side by side: in whichever order the SMTP server took them.
    const notices = w.sink
      .to('ana@mesa.test')
      .slice(-2)
      .map((m) => m.text)
      .sort()
      .join('\n');
    expect(notices).toContain(
      '«/producto Zapatería»: no está en el catálogo (Contabilidad, Nómina, Facturación electrónica, Inventarios, POS)',
    );
    expect(notices).toContain('«/modulo informes»: ¿cuál? Contabilidad, Nómina');
  });
});

describe('without a catalogue', () => {
  beforeEach(async () => {
    w = await mailWorld({}, { start: false });
  });
  afterEach(async () => {
    await w.close();
  });

  it('never asks for a product and says so to a consultant who uses /producto', async () => {
    const { confirmation, toAna } = await openCase('No puedo facturar');
    expect(confirmation.text).not.toContain('No pudimos saber de qué producto');
    await w.ingest(replyTo(toAna, { from: 'ana@mesa.test', body: '/producto Nómina\nHola.' }));
    await sent();
    expect(w.sink.to('ana@mesa.test').at(-1)!.text).toContain('no hay catálogo de productos (PRODUCTS_FILE)');
  });
});
