import fs from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TemplateRenderer, linesOf, type Locale, type TemplateName } from '../../../src/outbound/templates.ts';
import { launchChromium } from '../../integration/web/browser.ts';

/**
 * The templates: every one renders in Spanish and English with a text part; MJML is compiled once; everything
 * from mail is escaped; and the HTML looks right in a real Chromium (screenshots in tests/.artifacts/).
 */
const ARTIFACTS = path.resolve(import.meta.dirname, '../../.artifacts');
const HOSTILE = 'Factura <script>alert("x")</script> <img src=x onerror=alert(1)> & "comillas"';

const sample: Partial<Record<TemplateName, { data: Record<string, unknown>; pick?: Record<string, string> }>> = {
  confirmation: {
    data: {
      summary: linesOf(`Hola,\nal facturar sale el error E-42.\n${HOSTILE}`),
      caseUrl: 'https://mesa.example/caso/1.1.abc.def',
      hasAttachments: true,
      attachments: [{ filename: 'captura <1>.png', size: '120 KB' }],
    },
  },
  'consultant-case': {
    data: {
      from: 'carla@empresa.com',
      fromName: 'Carla Ríos',
      organization: 'empresa.com',
      priority: 'alta',
      stage: 'abierto',
      assignee: 'sin asignar',
      lines: linesOf(`No puedo entrar.\n${HOSTILE}`),
      hasAttachments: true,
      attachments: [{ filename: 'log.txt', size: '2 KB' }],
      caseUrl: 'https://mesa.example/caso/1',
      commands: [{ usage: '/cerrar (/close)', help: 'cierra el caso' }],
    },
    pick: { heading: 'headingNew' },
  },
  answer: {
    data: {
      consultantName: 'Ana Pérez',
      lines: linesOf('Hola Carla,\nya quedó corregido.\nSaludos'),
      hasAttachments: true,
      attachments: [{ filename: 'parche.zip', size: '1.2 MB' }],
      caseUrl: 'https://mesa.example/caso/1',
    },
  },
  closed: { data: { caseUrl: 'https://mesa.example/caso/1', rateUrl: 'https://mesa.example/caso/1#calificar' } },
  reopened: {
    data: { caseUrl: 'https://mesa.example/caso/1', hasReason: true, lines: ['carla@empresa.com: sigue fallando'] },
  },
  refusal: {
    data: { limit: '40 MB', openCases: [{ number: 3, subject: 'Otro caso', url: 'https://mesa.example/caso/3' }] },
    pick: { reason: 'reasons.too_large' },
  },
  'consultant-notice': {
    data: {
      items: ['«/volar»: comando desconocido'],
      commands: [{ usage: '/cerrar (/close)', help: 'cierra el caso' }],
    },
    pick: { heading: 'headingCommands', intro: 'introCommands', next: 'nextCommands' },
  },
};

/** The templates of this issue (the lifecycle ones have their own tests). */
const MINE = Object.keys(sample) as TemplateName[];
const common = {
  brand: 'Soporte Mesa',
  hours: 'lunes a viernes, 8:00–17:00',
  name: 'Carla Ríos',
  number: 42,
  subject: HOSTILE,
};

describe('mail templates', () => {
  const renderer = new TemplateRenderer();

  it('render in Spanish and English, with a text part and escaped mail content', () => {
    for (const locale of ['es', 'en'] as Locale[]) {
      for (const name of MINE) {
        const out = renderer.render(name, locale, { ...common, ...sample[name]!.data }, sample[name]!.pick);
        expect(out.html, `${name}/${locale}`).toContain('<!doctype html>');
        expect(out.text.length, `${name}/${locale}`).toBeGreaterThan(80);
        expect(out.html).not.toMatch(/<script|onerror=|<img src=x/i);
        expect(out.html).not.toContain('{{');
        expect(out.text).not.toContain('{{');
        expect(out.text).not.toMatch(/&lt;|&amp;|<strong>/);
        expect(out.subject.length).toBeGreaterThan(3);
      }
    }
    const es = renderer.render('confirmation', 'es', { ...common, ...sample.confirmation!.data });
    const en = renderer.render('confirmation', 'en', { ...common, ...sample.confirmation!.data });
    expect(es.text).toContain('Consultar mi caso: https://mesa.example/caso/1.1.abc.def');
    // The link stands apart from the quoted text above it, in every text part that quotes and then links.
    for (const name of ['confirmation', 'consultant-case', 'reopened'] as const) {
      const out = renderer.render(name, 'es', { ...common, ...sample[name]!.data }, sample[name]!.pick);
      expect(out.text, name).toMatch(/\n\n(Consultar mi caso|Ver el caso): https:/);
    }
    expect(en.text).toContain('View my case: https://mesa.example/caso/1.1.abc.def');
    expect(es.html).toContain('&lt;script&gt;');
    // The text part keeps what the customer wrote, as written.
    expect(es.text).toContain(HOSTILE);
  });

  it('compiles each MJML template once, then fills it in well under a millisecond or so', () => {
    const r = new TemplateRenderer();
    const t0 = performance.now();
    r.render('confirmation', 'es', { ...common, ...sample.confirmation!.data });
    const first = performance.now() - t0;
    const compiled = r.compileMs;
    const N = 200;
    const t1 = performance.now();
    for (let i = 0; i < N; i++) r.render('confirmation', 'es', { ...common, ...sample.confirmation!.data, number: i });
    const each = (performance.now() - t1) / N;
    expect(r.compileMs).toBe(compiled); // no second compilation
    console.log(
      `MJML: primera vez ${first.toFixed(0)} ms (compilación ${compiled.toFixed(0)} ms); después ${each.toFixed(3)} ms por correo`,
    );
    expect(each).toBeLessThan(first / 5);
  });

  describe('in Chromium', () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await launchChromium();
      fs.mkdirSync(ARTIFACTS, { recursive: true });
    });
    afterAll(async () => {
      await browser?.close();
    });

    it('lays out every template on a phone and a desktop width, with no script running and the button visible', async () => {
      for (const [w, label] of [
        [390, 'phone'],
        [800, 'desktop'],
      ] as const) {
        const page = await browser.newPage({ viewport: { width: w, height: 900 } });
        const dialogs: string[] = [];
        page.on('dialog', (d) => {
          dialogs.push(d.message());
          void d.dismiss();
        });
        for (const name of MINE) {
          const out = renderer.render(name, 'es', { ...common, ...sample[name]!.data }, sample[name]!.pick);
          await page.setContent(out.html, { waitUntil: 'load' });
          // Nothing overflows sideways (a mail client would show a horizontal scrollbar).
          const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
          expect(overflow, `${name} ${label}`).toBeLessThanOrEqual(1);
          expect(await page.locator('script').count()).toBe(0);
          const shot = path.join(ARTIFACTS, `mail-${name}-${label}.png`);
          await page.screenshot({ path: shot, fullPage: true });
          expect(fs.statSync(shot).size).toBeGreaterThan(5000);
        }
        const out = renderer.render('confirmation', 'es', { ...common, ...sample.confirmation!.data });
        await page.setContent(out.html, { waitUntil: 'load' });
        const button = page.getByRole('link', { name: 'Consultar mi caso' });
        await expect(button.isVisible()).resolves.toBe(true);
        expect(await button.getAttribute('href')).toBe('https://mesa.example/caso/1.1.abc.def');
        const box = (await button.boundingBox())!;
        expect(box.width).toBeGreaterThan(120);
        expect(box.x + box.width).toBeLessThanOrEqual(w);
        // The hostile subject shows as text.
        expect(await page.getByText('<script>alert("x")</script>', { exact: false }).count()).toBeGreaterThan(0);
        expect(dialogs).toEqual([]);
        await page.close();
      }
    });
  });
});
