import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { launchChromium } from '../web/browser.ts';
import { type LiveWorld, liveWorld } from '../../support/worlds.ts';

/**
 * A case from a hostile HTML mail, opened in a real Chromium: nothing the mail carries may run or load. Checked
 * in the page (flags scripts would set, requests the browser made, the DOM it built), not by matching strings.
 */
let browser: Browser;
let w: LiveWorld;
let tracker: http.Server;
const hits: string[] = [];

beforeAll(async () => {
  browser = await launchChromium();
  // Stands in for a tracking/attacker host: any request the page lets through would land here.
  tracker = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    res.end('x');
  });
  await new Promise<void>((r) => tracker.listen(0, '127.0.0.1', r));
  w = await liveWorld();
});
afterAll(async () => {
  await browser?.close();
  await w?.close();
  await new Promise((r) => tracker.close(r));
});

// A 1×1 PNG, sent as an inline (cid:) part of the mail: the one image that may show, served by us.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

function hostileHtml(t: string): string {
  return `<html><head>
<style>body{background:url(${t}/css-bg.gif)} p{width:expression(window.__pwned='css-expression')}</style>
<script>window.__pwned = 'script-tag'</script>
<link rel="stylesheet" href="${t}/remote.css">
<meta http-equiv="refresh" content="0;url=${t}/refresh">
<base href="${t}/">
</head><body>
<p onclick="window.__pwned='onclick'" onmouseover="window.__pwned='onmouseover'" id="hola">Hola, el sistema muestra un error al guardar.</p>
<img src="${t}/pixel.gif" width="1" height="1" alt="">
<img src="//127.0.0.1:${new URL(t).port}/protocol-relative.gif">
<img src="x" onerror="window.__pwned='onerror'">
<img srcset="${t}/srcset.gif 1x" alt="srcset">
<img src="cid:logo@cliente.test" alt="Logo del cliente">
<a href="javascript:window.__pwned='javascript-link'" id="jslink">Haz clic aquí</a>
<a href="JaVaScRiPt&colon;window.__pwned='encoded-link'">Otro enlace</a>
<a href="https://ayuda.example/guia">Guía de ayuda</a>
<div style="background-image:url(${t}/inline-bg.gif); width: expression(window.__pwned='inline-expression')">Con estilo</div>
<table background="${t}/table-bg.gif"><tr><td>celda</td></tr></table>
<form action="${t}/phish" method="post"><label>Clave <input name="password" type="password"></label><button>Entrar</button></form>
<iframe src="${t}/frame"></iframe>
<svg onload="window.__pwned='svg-onload'"><script>window.__pwned='svg-script'</script></svg>
<object data="${t}/object"></object>
<video poster="${t}/poster.gif"></video>
<math><mtext><img src="${t}/math.gif"></mtext></math>
</body></html>`;
}

/** Ingests Mallory's mail and gives the «Consultar mi caso» link of the confirmation she gets. */
async function caseLinkOf(raw: Buffer): Promise<string> {
  const r = await w.ingest(raw);
  expect(r.outcome).toBe('accepted');
  const [conf] = await w.sink.waitFor(
    (m) => m.to.includes('mallory@cliente.test') && m.subject.includes(`[Caso #${r.ticketNumber}]`),
  );
  return new RegExp(`${w.baseUrl.replace(/[.:/]/g, '\\$&')}/caso/[^\\s"<>]+`).exec(conf.text)![0];
}

describe('hostile mail on the status page', () => {
  it('runs no script, loads nothing remote and keeps no form, handler or style from the mail', async () => {
    const t = `http://127.0.0.1:${(tracker.address() as AddressInfo).port}`;
    const raw = await new MailComposer({
      from: 'Mallory <mallory@cliente.test>',
      to: 'soporte@mesa.test',
      subject: 'Error <script>window.__pwned="subject"</script> al guardar',
      html: hostileHtml(t),
      text: 'Hola, el sistema muestra un error al guardar.',
      attachments: [{ filename: 'logo.png', content: PNG, contentType: 'image/png', cid: 'logo@cliente.test' }],
    })
      .compile()
      .build();
    const link = await caseLinkOf(raw);

    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const requests: string[] = [];
    const dialogs: string[] = [];
    page.on('request', (req) => requests.push(req.url()));
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(link, { waitUntil: 'networkidle' });
    await page.locator('details.original summary').click();
    await page.waitForLoadState('networkidle');
    const html = page.locator('.mail-html');
    await expect.poll(() => html.innerText()).toContain('Hola, el sistema muestra un error al guardar.');
    // Event handlers would fire on these if they had survived.
    await page.locator('.mail-html p').first().hover();
    await page.locator('.mail-html p').first().click();
    await page
      .locator('.mail-html a', { hasText: 'Haz clic aquí' })
      .click({ modifiers: [] })
      .catch(() => undefined);

    expect(await page.evaluate(() => (window as unknown as { __pwned?: string }).__pwned)).toBeUndefined();
    expect(dialogs).toEqual([]);
    expect(hits).toEqual([]);
    const foreign = requests.filter((u) => !u.startsWith(w.baseUrl) && !u.startsWith('data:'));
    expect(foreign).toEqual([]);

    const dom = await page.evaluate(() => {
      const root = document.querySelector('.mail-html')!;
      const all = [...root.querySelectorAll('*')];
      return {
        dangerous: all
          .filter((e) =>
            /^(script|style|link|meta|base|form|input|button|iframe|object|embed|svg|math|video|audio|source)$/i.test(
              e.tagName,
            ),
          )
          .map((e) => e.tagName),
        handlerOrStyle: all.flatMap((e) =>
          [...e.attributes]
            .filter((a) => /^on|^style$|^background$|^srcset$|^class$|^id$/i.test(a.name))
            .map((a) => `${e.tagName}@${a.name}`),
        ),
        links: [...root.querySelectorAll('a')].map((a) => ({
          href: a.getAttribute('href'),
          rel: a.getAttribute('rel'),
        })),
        images: [...root.querySelectorAll('img')].map((i) => ({
          src: (i as HTMLImageElement).src,
          loaded: (i as HTMLImageElement).naturalWidth,
        })),
        pageForms: document.querySelectorAll('form').length,
        title: document.querySelector('h1')!.textContent,
      };
    });
    expect(dom.dangerous).toEqual([]);
    expect(dom.handlerOrStyle).toEqual([]);
    expect(dom.links.every((l) => l.href === null || /^https?:/i.test(l.href))).toBe(true);
    expect(dom.links.find((l) => l.href === 'https://ayuda.example/guia')?.rel).toContain('noreferrer');
    // Only the mail's own inline image remains, served by us, and it shows.
    expect(dom.images).toHaveLength(1);
    expect(dom.images[0].src.startsWith(`${w.baseUrl}/caso/`)).toBe(true);
    expect(dom.images[0].loaded).toBe(1);
    // The page's own forms only (message; no rating yet): the mail's phishing form is gone.
    expect(dom.pageForms).toBe(1);
    // The subject is text, not markup.
    expect(dom.title).toContain('<script>');
    await context.close();
  });
  it('shows the text alone of a mail whose HTML nests deeper than a browser builds, and keeps serving', async () => {
    // 500 KB of tags left open: sanitizing it took 7.8 s on the thread that serves every page and reads the mailboxes.
    const raw = await new MailComposer({
      from: 'Mallory <mallory@cliente.test>',
      to: 'soporte@mesa.test',
      subject: 'Etiquetas sin cerrar',
      html: `<p>No puedo imprimir la factura.</p>${'<b><i><u>'.repeat(56_000)}`,
      text: 'No puedo imprimir la factura.',
    })
      .compile()
      .build();
    const link = await caseLinkOf(raw);
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    const res = await page.goto(link, { waitUntil: 'networkidle' });
    expect(res?.status()).toBe(200);
    await expect.poll(() => page.locator('.msg .text').first().innerText()).toBe('No puedo imprimir la factura.');
    expect(await page.locator('details.original').count()).toBe(0);
    expect((await fetch(`${w.baseUrl}/healthz`)).status).toBe(200);
    await context.close();
  });
});
