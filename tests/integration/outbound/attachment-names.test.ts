import { afterEach, describe, expect, it } from 'vitest';
import { type LiveWorld, liveWorld } from '../../support/worlds.ts';
import { rawMail } from './fixtures.ts';

/**
 * A mail's attachment names are the sender's claim, and they reach the consultants' mail clients and the case page.
 * Through the real path: ingest, the outbox, a real SMTP server, the web server.
 */
let w: LiveWorld;
afterEach(async () => {
  await w.close();
});

describe('attachment names from a mail', () => {
  it('reach the consultants and the page without path, controls or invisible format characters', async () => {
    w = await liveWorld();
    const r = await w.ingest(
      rawMail({
        from: 'carla@empresa.com',
        subject: 'Factura de noviembre',
        body: 'Adjunto la factura.',
        attachments: [
          // Shown as «facturaexe.pdf» by a mail client that honours the right-to-left override.
          { filename: '../../Escritorio/factura\u202Efdp.exe', content: 'MZ', type: 'application/octet-stream' },
          { filename: 'acta\u200B.pdf', content: '%PDF-1.4' },
          { filename: '\u2066\u2069', content: 'x', type: 'text/plain' },
        ],
      }),
    );
    expect(r.outcome).toBe('accepted');
    const expected = ['facturafdp.exe', 'acta.pdf', 'adjunto-3.txt'];
    const stored = await w.app.db('attachments').orderBy('id').pluck('filename');
    expect(stored).toEqual(expected);
    const [notice] = await w.sink.waitFor((m) => m.envelopeTo.includes('ana@mesa.test'));
    expect(notice.parsed.attachments.map((a) => a.filename)).toEqual(expected);
    expect(notice.text).not.toMatch(/[\u200B\u202E\u2066\u2069]/);

    const url = new URL(/http:\/\/127\.0\.0\.1:\d+\/caso\/[^\s"<>]+/.exec(notice.text)![0]);
    const page = await w.server.inject({ method: 'GET', url: url.pathname });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('facturafdp.exe');
    expect(page.body).not.toMatch(/[\u200B\u202E\u2066\u2069]/);
  });
});
