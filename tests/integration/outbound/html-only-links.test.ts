import { afterEach, expect, it } from 'vitest';
import { type LiveWorld, liveWorld } from '../../support/worlds.ts';

/**
 * A customer who writes HTML only (some Outlook and phone setups, web forms) and shares a link: its address reaches the
 * consultant and the case page, not only its word («aquí»). Through the real path: ingest, the outbox, a real SMTP
 * server, the web server.
 */
let w: LiveWorld;
afterEach(async () => {
  await w.close();
});

const DRIVE = 'https://drive.google.com/file/d/1AbC/view?usp=sharing';

it("carries the address of an HTML-only mail's link to the consultant and the page, and no script's", async () => {
  w = await liveWorld();
  const raw = [
    'From: Carla Ruiz <carla@empresa.com>',
    'To: soporte@mesa.test',
    'Subject: Video del error',
    'Message-ID: <html-only-1@empresa.com>',
    'MIME-Version: 1.0',
    'Content-Type: text/html; charset=utf-8',
    '',
    `<p>Buenas, le comparto el video del error <a href="${DRIVE.replace(/&/g, '&amp;')}">aquí</a>.</p>`,
    '<p><a href="javascript:alert(1)">Ver detalle</a><script>alert(2)</script></p>',
    '',
  ].join('\r\n');
  expect((await w.ingest(Buffer.from(raw))).outcome).toBe('accepted');

  const [notice] = await w.sink.waitFor((m) => m.envelopeTo.includes('ana@mesa.test'));
  expect(notice.text).toContain(`le comparto el video del error aquí <${DRIVE}>.`);
  expect(notice.text).toContain('Ver detalle');
  expect(notice.text).not.toMatch(/javascript:|alert/);

  const url = new URL(/http:\/\/127\.0\.0\.1:\d+\/caso\/[^\s"<>]+/.exec(notice.text)![0]);
  const page = await w.server.inject({ method: 'GET', url: url.pathname });
  expect(page.statusCode).toBe(200);
  expect(page.body).toContain(`aquí &lt;${DRIVE.replace(/&/g, '&amp;')}&gt;`);
  expect(page.body).not.toMatch(/javascript:|alert\(/);
});
