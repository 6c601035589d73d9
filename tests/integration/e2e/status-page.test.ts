import { describe, expect, it } from 'vitest';
import { caseDetail } from '../../../src/services/case-view.ts';
import { rawMail, replyTo } from '../outbound/fixtures.ts';
import type { SinkMessage } from '../../support/smtp-sink.ts';
import { artifactPath, chromiumForFile } from '../web/browser.ts';
import { liveWorld } from '../../support/worlds.ts';

/**
 * The status page in a real headless Chromium against the real server: the customer follows the link from the
 * confirmation mail the SMTP sink received, reads the conversation, writes with an attachment (the consultants'
 * sink gets it), rejects a solution (the case reopens) and then accepts one (it closes).
 */
const CUSTOMER = 'laura@cliente.test';

const { browser, keep } = chromiumForFile();

const linkIn = (m: SinkMessage, base: string) =>
  new RegExp(`${base.replace(/[.:/]/g, '\\$&')}/caso/[^\\s"<>]+`).exec(m.text)?.[0];

describe('status page in Chromium', () => {
  it('follows the mailed link, shows the conversation, posts with an attachment, reopens and accepts a solution', async () => {
    const world = keep(await liveWorld());
    const opened = await world.ingest(
      rawMail({
        from: CUSTOMER,
        fromName: 'Laura Gómez',
        subject: 'No carga el reporte de ventas',
        body: 'Buenos días,\nel reporte de ventas queda cargando sin fin desde ayer.\nGracias',
        messageId: 'laura-1@cliente.test',
      }),
    );
    expect(opened.outcome).toBe('accepted');
    const n = opened.ticketNumber!;
    const [confirmation] = await world.sink.waitFor(
      (m) => m.to.includes(CUSTOMER) && m.subject.includes(`[Caso #${n}]`),
    );
    const link = linkIn(confirmation, world.baseUrl)!;
    expect(link).toBeTruthy();

    // A consultant answers from the mail client and sends the case to testing with a command.
    const [toAna] = await world.sink.waitFor(
      (m) => m.to.includes('ana@mesa.test') && m.subject.includes(`[Caso #${n}]`),
    );
    const reply = await world.ingest(
      replyTo(toAna, {
        from: 'ana@mesa.test',
        fromName: 'Ana Pérez',
        body: '/etapa pruebas\nHola Laura, ya corregimos el índice del reporte. ¿Puedes probar?',
      }),
    );
    expect(reply.outcome).toBe('accepted');
    await world.sink.waitFor((m) => m.to.includes(CUSTOMER) && m.text.includes('ya corregimos el índice'));

    const context = await browser().newContext({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
      locale: 'es-CO',
    });
    const page = await context.newPage();
    const started = Date.now();
    const res = await page.goto(link, { waitUntil: 'load' });
    const loadMs = Date.now() - started;
    expect(res!.status()).toBe(200);
    const thread = page.locator('ol.thread > li');
    await expect.poll(() => thread.count()).toBe(2);
    expect(await thread.nth(0).getAttribute('class')).toContain('me');
    expect(await thread.nth(0).locator('.who').innerText()).toBe('Yo');
    expect(await thread.nth(0).locator('.text').innerText()).toContain('el reporte de ventas queda cargando');
    expect(await thread.nth(1).getAttribute('class')).toContain('support');
    expect(await thread.nth(1).locator('.who').innerText()).toBe('Soporte Mesa');
    expect(await thread.nth(1).locator('.text').innerText()).toContain('ya corregimos el índice del reporte');
    expect(await thread.nth(1).locator('.text').innerText()).not.toContain('/etapa');
    expect(await page.locator('.facts').innerText()).toContain('En pruebas');
    await page.screenshot({ path: artifactPath('status-page-phone.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.screenshot({ path: artifactPath('status-page-desktop.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    console.log(`[status page] first load in Chromium: ${loadMs} ms, HTML ${(await res!.body()).length} bytes`);

    // Loading the page (what a link scanner does) recorded no read; the first key a person presses on it does.
    const answerRead = async () =>
      (await caseDetail(world.app.db, n))!.messages.find((m) => m.role === 'consultant')!.readAt;
    await page.waitForLoadState('networkidle');
    expect(await answerRead()).toBeNull();
    await page.keyboard.press('Tab');
    // The receipt is a fetch and a database write: on a loaded machine, more than expect.poll's default second.
    await expect.poll(answerRead, { timeout: 15_000 }).not.toBeNull();

    // A message with an attachment, by keyboard and mouse as a person would; a double click adds it once.
    await page.getByLabel('Mensaje').fill('Ahora abre, pero los totales no cuadran. Adjunto captura.');
    await page.setInputFiles('#adjuntos', {
      name: 'totales.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from('mes,total\nnov,1200\n'),
    });
    await page.getByRole('button', { name: 'Enviar' }).dblclick();
    // The second click's submission aborts the first one's navigation (net::ERR_ABORTED), and page.waitForURL
    // throws on any failed navigation it sees, whichever URL it was for: watch where the page ends up instead.
    // The post counts the client's and the link's limits in the database before its body is read: allow for a loaded
    // machine.
    await expect.poll(() => page.url(), { timeout: 15_000 }).toMatch(/aviso=mensaje/);
    await page.waitForLoadState('load');
    await expect.poll(() => page.locator('[role=status]').innerText()).toContain('quedó registrado');
    const [toConsultant] = await world.sink.waitFor(
      (m) => m.to.includes('ana@mesa.test') && m.text.includes('los totales no cuadran'),
    );
    expect(toConsultant.parsed.attachments.map((a) => a.filename)).toContain('totales.csv');
    expect(toConsultant.parsed.attachments.find((a) => a.filename === 'totales.csv')!.content.toString()).toBe(
      'mes,total\nnov,1200\n',
    );
    expect((await world.app.db('messages').where({ source: 'web' })).length).toBe(1);
    await expect.poll(() => page.locator('ol.thread > li.me').count()).toBe(2);
    // The attachment is offered for download from the page.
    const download = page.waitForEvent('download');
    await page.getByRole('link', { name: 'totales.csv' }).click();
    expect((await download).suggestedFilename()).toBe('totales.csv');

    // "Solución insatisfactoria": the case reopens with the comment, and support is told again.
    await page.getByLabel('Comentario').fill('Los totales de noviembre siguen mal.');
    await page.getByRole('button', { name: 'Solución insatisfactoria' }).click();
    await page.waitForURL(/aviso=reabierto/);
    expect(await page.locator('.facts').innerText()).toContain('Reabierto');
    await world.sink.waitFor(
      (m) => m.to.includes('ana@mesa.test') && m.text.includes('Los totales de noviembre siguen mal.'),
    );

    // Support proposes a fix again; this time the customer accepts it (VoBo) and the case closes.
    const [again] = await world.sink.waitFor(
      (m) => m.to.includes('ana@mesa.test') && m.text.includes('Los totales de noviembre siguen mal.'),
    );
    expect(
      (
        await world.ingest(
          replyTo(again, {
            from: 'ana@mesa.test',
            fromName: 'Ana Pérez',
            body: '/etapa pruebas\nCorregido el redondeo de noviembre.',
          }),
        )
      ).outcome,
    ).toBe('accepted');
    await page.reload();
    expect(await page.locator('.facts').innerText()).toContain('En pruebas');
    await page.getByLabel('Comentario').fill('Perfecto, gracias.');
    await page.getByRole('button', { name: 'Solución satisfactoria' }).click();
    await page.waitForURL(/aviso=vobo/);
    expect(await page.locator('.facts').innerText()).toContain('Cerrado');
    expect(await page.locator('form[action*="/mensaje?"]').count()).toBe(0);
    const closed = (await caseDetail(world.app.db, n))!;
    expect(closed.stage).toBe('cerrado');
    expect(closed.rating).toBe('satisfactoria');
    await world.sink.waitFor(
      (m) => m.to.includes(CUSTOMER) && /cerr|closed/i.test(m.subject + m.text) && m.receivedAt >= started,
    );
    await context.close();
  });

  it("answers a file over the limit with the form's error in Spanish, not a broken connection", async () => {
    const world = keep(await liveWorld({ MAX_ATTACHMENT_BYTES: String(512 * 1024) }));
    const opened = await world.ingest(
      rawMail({
        from: CUSTOMER,
        fromName: 'Laura Gómez',
        subject: 'Archivo grande',
        body: 'Hola',
        messageId: 'laura-3@cliente.test',
      }),
    );
    const [confirmation] = await world.sink.waitFor(
      (m) => m.to.includes(CUSTOMER) && m.subject.includes(`[Caso #${opened.ticketNumber}]`),
    );
    const context = await browser().newContext();
    const page = await context.newPage();
    await page.goto(linkIn(confirmation, world.baseUrl)!);
    await page.getByLabel('Mensaje').fill('Va el respaldo completo.');
    await page.setInputFiles('#adjuntos', {
      name: 'respaldo.bak',
      mimeType: 'application/octet-stream',
      buffer: Buffer.alloc(20 * 1024 * 1024, 7),
    });
    const answer = page.waitForResponse((r) => r.url().includes('/mensaje'));
    await page.getByRole('button', { name: 'Enviar' }).click();
    expect((await answer).status()).toBe(413);
    await expect
      .poll(() => page.locator('[role=alert]').innerText(), { timeout: 15_000 })
      .toContain('El archivo es demasiado grande: el límite es 512 KB por archivo.');
    // What was typed is still there, to send with a smaller file.
    expect(await page.getByLabel('Mensaje').inputValue()).toBe('Va el respaldo completo.');
    expect((await world.app.db('messages').where({ source: 'web' })).length).toBe(0);
    await context.close();
  });

  it('records a read on a person\'s input, never on a load alone; without JavaScript, on the "Ya leí" button', async () => {
    const world = keep(await liveWorld());
    const opened = await world.ingest(
      rawMail({
        from: CUSTOMER,
        fromName: 'Laura Gómez',
        subject: 'Lectura',
        body: 'Hola',
        messageId: 'laura-2@cliente.test',
      }),
    );
    const n = opened.ticketNumber!;
    const [confirmation] = await world.sink.waitFor(
      (m) => m.to.includes(CUSTOMER) && m.subject.includes(`[Caso #${n}]`),
    );
    const link = linkIn(confirmation, world.baseUrl)!;
    const [toAna] = await world.sink.waitFor(
      (m) => m.to.includes('ana@mesa.test') && m.subject.includes(`[Caso #${n}]`),
    );
    expect(
      (await world.ingest(replyTo(toAna, { from: 'ana@mesa.test', fromName: 'Ana Pérez', body: 'Ya lo miramos.' })))
        .outcome,
    ).toBe('accepted');
    const answerRead = async () =>
      (await caseDetail(world.app.db, n))!.messages.find((m) => m.role === 'consultant')!.readAt;

    // A scanner that renders the page, runs its script and waits for the network to settle: nothing recorded.
    const scanner = await browser().newContext();
    const scanned = await scanner.newPage();
    const posts: string[] = [];
    scanned.on('request', (r) => (r.method() === 'POST' ? posts.push(r.url()) : undefined));
    await scanned.goto(link, { waitUntil: 'networkidle' });
    expect(await scanned.locator('ol.thread > li.support').count()).toBe(1);
    expect(posts).toEqual([]);
    expect(await answerRead()).toBeNull();
    await scanner.close();

    // A browser without JavaScript: the button records it, and the page says so.
    const noJs = await browser().newContext({ javaScriptEnabled: false });
    const plain = await noJs.newPage();
    await plain.goto(link);
    expect(await answerRead()).toBeNull();
    await plain.getByRole('button', { name: 'Ya leí las respuestas' }).click();
    await plain.waitForURL(/aviso=leido/);
    expect(await plain.locator('[role=status]').innerText()).toContain('Registramos que leíste');
    expect(await answerRead()).not.toBeNull();
    // Nothing is left unread, so the button is gone.
    expect(await plain.getByRole('button', { name: 'Ya leí las respuestas' }).count()).toBe(0);
    await noJs.close();
  });
});
