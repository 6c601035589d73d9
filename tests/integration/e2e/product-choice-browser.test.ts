import path from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { caseDetail } from '../../../src/services/case-view.ts';
import { rawMail } from '../outbound/fixtures.ts';
import { artifactPath, chromiumForFile, seriousFindings } from '../web/browser.ts';
import { liveWorld } from '../../support/worlds.ts';

/**
 * The product choice on the case page (issue 27) in a real headless Chromium at phone width: reached from the
 * mailed link of a case whose product Mesa could not tell, chosen with the keyboard only, checked with axe-core (no
 * serious or critical finding), with screenshots kept in tests/.artifacts/.
 */
const PRODUCTS_FILE = path.join(import.meta.dirname, '../../fixtures/products/productos.yaml');
const CUSTOMER = 'carla@empresa.com';

const { browser, keep } = chromiumForFile();

const focusedId = (page: Page) => page.evaluate(() => document.activeElement?.id ?? '');

describe('product choice in Chromium', () => {
  it('chooses product, module and version with the keyboard at phone width, with no serious finding', async () => {
    const world = keep(await liveWorld({ PRODUCTS_FILE }));
    const r = await world.ingest(
      rawMail({ from: CUSTOMER, fromName: 'Carla Ríos', subject: 'Informes de fin de mes vacíos', body: 'Hola.' }),
    );
    const number = r.ticketNumber!;
    const [confirmation] = await world.sink.waitFor(
      (m) => m.to.includes(CUSTOMER) && m.subject.includes(`[Caso #${number}]`),
    );
    expect(confirmation.text).toContain('No pudimos saber de qué producto');
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
    const region = page.getByRole('region', { name: '¿Sobre qué producto es tu caso?' });
    await expect(region.isVisible()).resolves.toBe(true);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect(await seriousFindings(page)).toEqual([]);

    // Found by its label, then only keys: arrows through the options, Tab to the version, Tab to the button, Enter.
    const select = page.getByLabel('Producto y módulo');
    await select.focus();
    for (let i = 0; i < 60 && (await select.inputValue()) !== 'Nómina::Vacaciones'; i++)
      await page.keyboard.press('ArrowDown');
    expect(await select.inputValue()).toBe('Nómina::Vacaciones');
    await page.keyboard.press('Tab');
    expect(await focusedId(page)).toBe('version');
    await page.keyboard.type('4.2');
    await page.screenshot({ path: artifactPath('producto-eleccion-telefono.png'), fullPage: true });
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Guardar el producto');
    await page.keyboard.press('Enter');
    await page.waitForURL(/aviso=producto/);

    await expect(page.getByRole('status').textContent()).resolves.toContain('Registramos el producto de tu caso');
    const product = page.locator('dl.facts dt:text-is("Producto") + dd');
    expect(await product.textContent()).toBe('Nómina · Vacaciones · v4.2');
    expect(await page.getByLabel('Producto y módulo').count()).toBe(0);
    await page.screenshot({ path: artifactPath('producto-elegido-telefono.png'), fullPage: true });
    expect(await seriousFindings(page)).toEqual([]);
    const d = (await caseDetail(world.app.db, number, { includeInternal: true }))!;
    expect(d).toMatchObject({ product: 'Nómina', productModule: 'Vacaciones', productVersion: '4.2' });
    await context.close();
  });
});
