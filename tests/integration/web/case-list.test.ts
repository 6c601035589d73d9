import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findTicketByNumber } from '../../../src/db/repos/tickets.ts';
import { fileCase, linkPath, portalHarness, type PortalHarness } from './support.ts';

/**
 * "Mis casos" over HTTP against the real server (SQLite or PostgreSQL): what a customer lists from one of their
 * links, the filters and pages, and what no URL or filter can make it show.
 */
const PRODUCTS_FILE = path.join(import.meta.dirname, '../../fixtures/products/productos.yaml');
let h: PortalHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

let clockAt = Date.now();
const get = async (url: string) => h!.server.inject({ method: 'GET', url });
const listOf = async (number: number, who: string, query = '') =>
  get(`${await linkPath(h!.app, number, who)}/casos${query}`);
const numbersIn = (body: string) =>
  [...body.matchAll(/<th scope="row">(?:<a href="[^"]+">)?#(\d+)/g)].map((m) => Number(m[1]));

async function world(env: Record<string, string> = {}) {
  clockAt = Date.now();
  h = await portalHarness({ PRODUCTS_FILE, ...env }, { clock: () => clockAt });
  const carla = [
    await fileCase(h.app, { from: 'Carla <carla@empresa.com>', subject: 'BANCOS, Factura mal cargada', text: 'a' }),
    await fileCase(h.app, { from: 'Carla <carla@empresa.com>', subject: 'Nómina 4.2: no liquida la prima', text: 'b' }),
    await fileCase(h.app, { from: 'Carla <carla@empresa.com>', subject: 'POS, caja bloqueada 100%', text: 'c' }),
  ];
  const pedro = await fileCase(h.app, {
    from: 'Pedro <pedro@empresa.com>',
    subject: 'CARTERA, saldo duplicado',
    text: 'd',
  });
  const stranger = await fileCase(h.app, {
    from: 'Otro <x@otra.com>',
    subject: 'BANCOS, extracto de otra empresa',
    text: 'e',
  });
  return { carla, pedro, stranger };
}

describe('Mis casos', () => {
  it("lists the customer's own cases of their organization, with links that open them, in an accessible table", async () => {
    const { carla, pedro, stranger } = await world();
    const res = await listOf(carla[0], 'carla@empresa.com');
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(numbersIn(res.body)).toEqual([...carla].reverse());
    expect(res.body).not.toContain(`#${pedro}`);
    expect(res.body).not.toContain(`#${stranger}<`);
    expect(res.body).toContain('<caption id="cases-caption">3 casos</caption>');
    expect(res.body).toContain('<th scope="col">Semáforo</th>');
    expect(res.body).toContain('Contabilidad · Bancos');
    expect(res.body).toContain('Nómina · v4.2');
    expect(res.body).toContain('A tiempo');
    // Every control of the form has its label.
    for (const id of res.body.matchAll(/<(?:input|select) id="([^"]+)"/g))
      expect(res.body).toContain(`<label for="${id[1]}">`);
    // Each row links to that case with the viewer's own link.
    const href = /<th scope="row"><a href="([^"]+)">#(\d+)/.exec(res.body)!;
    const page = await get(href[1]);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain(`Caso #${href[2]}`);
    expect(page.body).toContain('/casos">Mis casos</a>');
  });

  it('filters by number, state, product, waiting on, light and text, orders, and pages', async () => {
    const { carla } = await world();
    expect(numbersIn((await listOf(carla[0], 'carla@empresa.com', `?numero=%23${carla[1]}`)).body)).toEqual([carla[1]]);
    expect(numbersIn((await listOf(carla[0], 'carla@empresa.com', '?producto=N%C3%B3mina')).body)).toEqual([carla[1]]);
    expect(numbersIn((await listOf(carla[0], 'carla@empresa.com', '?texto=mal%20cargada')).body)).toEqual([carla[0]]);
    // LIKE wildcards in the text are the characters themselves.
    expect(numbersIn((await listOf(carla[0], 'carla@empresa.com', '?texto=100%25')).body)).toEqual([carla[2]]);
    expect(numbersIn((await listOf(carla[0], 'carla@empresa.com', '?texto=_')).body)).toEqual([]);
    expect(numbersIn((await listOf(carla[0], 'carla@empresa.com', '?orden=antiguos')).body)).toEqual(carla);
    expect(
      numbersIn((await listOf(carla[0], 'carla@empresa.com', '?espera=soporte&estado=abiertos')).body),
    ).toHaveLength(3);
    expect(numbersIn((await listOf(carla[0], 'carla@empresa.com', '?espera=cliente')).body)).toEqual([]);
    expect(numbersIn((await listOf(carla[0], 'carla@empresa.com', '?semaforo=red')).body)).toEqual([]);
    // A month later, unanswered: every open case is late.
    clockAt += 30 * 86_400_000;
    const late = await listOf(carla[0], 'carla@empresa.com', '?semaforo=red&orden=semaforo');
    expect(numbersIn(late.body)).toHaveLength(3);
    expect(late.body).toContain('Retrasado');
    // Bad values are named back and ignored, never passed on.
    const bad = await listOf(
      carla[0],
      'carla@empresa.com',
      '?estado=borrado&numero=1%20or%201=1&orden=x&producto=Zapatos',
    );
    expect(bad.statusCode).toBe(200);
    expect(bad.body).toContain('Se ignoraron filtros no válidos: número, estado, producto, orden.');
    expect(numbersIn(bad.body)).toHaveLength(3);

    for (let i = 0; i < 19; i++)
      await fileCase(h!.app, { from: 'carla@empresa.com', subject: `Caso de relleno ${i}`, text: 'x' });
    const first = await listOf(carla[0], 'carla@empresa.com');
    expect(numbersIn(first.body)).toHaveLength(20);
    expect(first.body).toContain('22 casos, página 1 de 2');
    const next = /<a rel="next" href="([^"]+)"/.exec(first.body)![1].replace(/&amp;/g, '&');
    const second = await get(next);
    expect(numbersIn(second.body)).toEqual(carla.slice(0, 2).reverse());
    expect(numbersIn((await listOf(carla[0], 'carla@empresa.com', '?pagina=99')).body)).toEqual(
      carla.slice(0, 2).reverse(),
    );
  });

  it('pages by key with links that carry the filters, forwards and back, in every order', async () => {
    const { carla, stranger } = await world();
    const filed = [...carla];
    for (let i = 0; i < 41; i++)
      filed.push(await fileCase(h!.app, { from: 'carla@empresa.com', subject: `Caso de relleno ${i}`, text: 'x' }));
    const hrefOf = (body: string, rel: string) =>
      new RegExp(`<a rel="${rel}" href="([^"]+)"`).exec(body)?.[1].replace(/&amp;/g, '&');
    for (const [orden, expected] of [
      ['recientes', [...filed].reverse()],
      ['antiguos', filed],
      ['numero', [...filed].reverse()],
      ['actualizados', [...filed].reverse()],
    ] as const) {
      const first = await listOf(carla[0], 'carla@empresa.com', `?estado=abiertos&orden=${orden}`);
      expect(first.body).toContain('44 casos, página 1 de 3');
      expect(numbersIn(first.body)).toEqual(expected.slice(0, 20));
      expect(hrefOf(first.body, 'prev')).toBeUndefined();
      // The next page's link: its key, its number, and the filters and order of this one; no script needed.
      const next = hrefOf(first.body, 'next')!;
      expect(next).toMatch(/[?&]desde=[\d-]+(&|$)/);
      expect(next).toContain('estado=abiertos');
      expect(next).toContain(`orden=${orden}`);
      expect(next).toContain('pagina=2');
      const second = await get(next);
      expect(second.body).toContain('44 casos, página 2 de 3');
      expect(numbersIn(second.body)).toEqual(expected.slice(20, 40));
      const third = await get(hrefOf(second.body, 'next')!);
      expect(numbersIn(third.body)).toEqual(expected.slice(40));
      expect(hrefOf(third.body, 'next')).toBeUndefined();
      // Back from the last page by its "Anteriores" key, then back to the first.
      const prev = hrefOf(third.body, 'prev')!;
      expect(prev).toMatch(/[?&]antes=[\d-]+(&|$)/);
      const back = await get(prev);
      expect(numbersIn(back.body)).toEqual(expected.slice(20, 40));
      const start = await get(hrefOf(back.body, 'prev')!);
      expect(numbersIn(start.body)).toEqual(expected.slice(0, 20));
      expect(start.body).toContain('44 casos, página 1 de 3');
      expect(hrefOf(start.body, 'prev')).toBeUndefined();
    }
    // A key is a position, never a scope: past another organization's case it still lists this organization's only.
    const past = await listOf(carla[0], 'carla@empresa.com', `?desde=${Date.now() + 86_400_000}-${stranger + 1}`);
    expect(numbersIn(past.body)).not.toContain(stranger);
    expect(numbersIn(past.body).length).toBe(20);
    const bad = await listOf(carla[0], 'carla@empresa.com', '?desde=1%20or%201=1');
    expect(bad.body).toContain('Se ignoraron filtros no válidos: página.');
    expect(numbersIn(bad.body)).toEqual([...filed].reverse().slice(0, 20));
  });

  it("never shows another organization's case, whatever the URL or the filter says", async () => {
    const { carla, stranger } = await world({ CASE_LIST_ORGANIZATIONS: '*' });
    for (const q of [
      `?numero=${stranger}`,
      '?texto=otra%20empresa',
      '?organization=otra.com',
      '?organizacion=otra.com&requester=x%40otra.com',
    ]) {
      const res = await listOf(carla[0], 'carla@empresa.com', q);
      expect(numbersIn(res.body)).not.toContain(stranger);
      expect(res.body).not.toContain('extracto de otra empresa');
    }
    // The stranger's link lists the stranger's organization only.
    expect(numbersIn((await listOf(stranger, 'x@otra.com')).body)).toEqual([stranger]);
  });

  it("shows the whole organization where it shares its list, but opens only the viewer's own cases", async () => {
    const { carla, pedro, stranger } = await world({ CASE_LIST_ORGANIZATIONS: 'empresa.com' });
    const res = await listOf(carla[0], 'carla@empresa.com');
    expect(res.body).toContain('Casos de mi organización');
    expect(numbersIn(res.body).sort()).toEqual([...carla, pedro].sort());
    expect(numbersIn(res.body)).not.toContain(stranger);
    expect(res.body).toMatch(new RegExp(`<th scope="row">#${pedro}</th>`));
    expect(res.body).toMatch(new RegExp(`<th scope="row"><a href="/caso/[^"]+">#${carla[0]}</a>`));
    // Pedro's case has no link for Carla: none was issued.
    const t = (await findTicketByNumber(h!.app.db, pedro))!;
    expect((await h!.app.db('links').where({ ticket_id: t.id, recipient: 'carla@empresa.com' })).length).toBe(0);
    // Without the setting, Pedro's own list has only his case.
    expect(numbersIn((await listOf(stranger, 'x@otra.com')).body)).toEqual([stranger]);
  });

  it("answers 404 to a forged token and to a consultant's link", async () => {
    const { carla } = await world();
    expect((await get('/caso/1.1.abc.def/casos')).statusCode).toBe(404);
    const consultant = await listOf(carla[0], 'ana@mesa.test');
    expect(consultant.statusCode).toBe(404);
  });
});
