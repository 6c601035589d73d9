import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { rawMail } from '../outbound/fixtures.ts';
import { artifactPath, chromiumForFile, seriousFindings } from '../web/browser.ts';
import { liveWorld } from '../../support/worlds.ts';

/**
 * "Mis casos" and the knowledge base in a real headless Chromium at phone width: reached from the mailed link,
 * filtered with the keyboard, checked with axe-core (no serious or critical finding), with screenshots kept in
 * tests/.artifacts/.
 */
const PRODUCTS_FILE = path.join(import.meta.dirname, '../../fixtures/products/productos.yaml');
const CUSTOMER = 'laura@cliente.test';

const { browser, keep } = chromiumForFile();

/** axe-core's serious and critical findings on the page as it is. The page's CSP forbids scripts: the test context
 * bypasses it to inject axe, as a browser extension would. */

describe('Mis casos and the knowledge base in Chromium', () => {
  it('lists, filters with the keyboard and searches at phone width, with no serious accessibility finding', async () => {
    const world = keep(await liveWorld({ PRODUCTS_FILE }));
    const subjects = ['BANCOS, Factura mal cargada', 'Nómina 4.2: no liquida la prima', 'POS, caja bloqueada'];
    let last = 0;
    for (const subject of subjects)
      last = (
        await world.ingest(
          rawMail({ from: CUSTOMER, fromName: 'Laura Gómez', subject, body: 'Buenos días,\nadjunto el detalle.' }),
        )
      ).ticketNumber!;
    const [confirmation] = await world.sink.waitFor(
      (m) => m.to.includes(CUSTOMER) && m.subject.includes(`[Caso #${last}]`),
    );
    const link = new RegExp(`${world.baseUrl.replace(/[.:/]/g, '\\$&')}/caso/[^\\s"<>]+`).exec(confirmation.text)![0];

    const context = await browser().newContext({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
      locale: 'es-CO',
      bypassCSP: true,
    });
    const page = await context.newPage();
    await page.goto(link, { waitUntil: 'load' });
    await page.getByRole('link', { name: 'Mis casos' }).click();
    await page.waitForURL(/\/casos$/);
    const table = page.getByRole('table', { name: '3 casos' });
    await expect(table.isVisible()).resolves.toBe(true);
    expect(await table.getByRole('rowheader').allTextContents()).toEqual([`#${last}`, `#${last - 1}`, `#${last - 2}`]);
    expect(await page.getByRole('columnheader').allTextContents()).toEqual([
      'Número',
      'Asunto',
      'Producto',
      'Estado',
      'En espera de',
      'Semáforo',
      'Consultor',
      'Abierto el',
      'Visto bueno',
    ]);
    // Nothing wider than the phone but the table, which scrolls in its own region.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: artifactPath('mis-casos-telefono.png'), fullPage: true });
    expect(await seriousFindings(page)).toEqual([]);

    // The product filter by keyboard: choose in the select found by its label, then Enter on the submit button.
    await page.getByLabel('Producto', { exact: true }).selectOption('Nómina');
    await page.getByRole('button', { name: 'Aplicar' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/producto=N%C3%B3mina/);
    expect(await page.getByRole('rowheader').allTextContents()).toEqual([`#${last - 1}`]);
    await page.screenshot({ path: artifactPath('mis-casos-filtro-telefono.png'), fullPage: true });

    await page.getByRole('link', { name: 'Base de conocimiento' }).click();
    await page.waitForURL(/\/conocimiento$/);
    await page.getByLabel('Qué problema tienes').fill('facturas rechazadas');
    await page.keyboard.press('Enter');
    await page.waitForURL(/q=facturas/);
    expect(await page.getByRole('heading', { level: 2 }).textContent()).toBe('0 soluciones para «facturas rechazadas»');
    await page.screenshot({ path: artifactPath('conocimiento-telefono.png'), fullPage: true });
    expect(await seriousFindings(page)).toEqual([]);

    // More cases than a page: "Siguientes" and "Anteriores" are plain links that carry the page's key and the
    // filters, followed with the keyboard.
    let newest = last;
    for (let i = 0; i < 20; i++)
      newest = (await world.ingest(rawMail({ from: CUSTOMER, subject: `Consulta de relleno ${i}`, body: 'x' })))
        .ticketNumber!;
    await page.getByRole('link', { name: 'Mis casos' }).click();
    await page.waitForURL(/\/casos$/);
    await page.getByLabel('Estado', { exact: true }).selectOption('abiertos');
    await page.getByRole('button', { name: 'Aplicar' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/estado=abiertos/);
    await expect(page.getByRole('table', { name: '23 casos, página 1 de 2' }).isVisible()).resolves.toBe(true);
    expect((await page.getByRole('rowheader').allTextContents())[0]).toBe(`#${newest}`);
    await page.getByRole('navigation', { name: 'Páginas' }).getByRole('link', { name: 'Siguientes' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/desde=[\d-]+.*pagina=2/);
    expect(page.url()).toContain('estado=abiertos');
    await expect(page.getByRole('table', { name: '23 casos, página 2 de 2' }).isVisible()).resolves.toBe(true);
    expect(await page.getByRole('rowheader').allTextContents()).toEqual([`#${last}`, `#${last - 1}`, `#${last - 2}`]);
    await page.screenshot({ path: artifactPath('mis-casos-pagina-2-telefono.png'), fullPage: true });
    expect(await seriousFindings(page)).toEqual([]);
    await page.getByRole('link', { name: 'Anteriores' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/antes=[\d-]+/);
    expect(page.url()).toContain('estado=abiertos');
    expect(await page.getByRole('rowheader').count()).toBe(20);
    expect((await page.getByRole('rowheader').allTextContents())[0]).toBe(`#${newest}`);
    await context.close();
  });
});
