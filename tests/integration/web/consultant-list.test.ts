import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { consultantListToken, consultantListUrl } from '../../../src/links/consultant-list.ts';
import { buildServer } from '../../../src/web/server.ts';
import { rawMail, replyTo } from '../outbound/fixtures.ts';
import { linkPath } from './support.ts';
import { type MailWorld, mailWorld } from '../../support/worlds.ts';

/**
 * The consultants' list: every organization, read-only, behind a signed expiring consultant link mailed on
 * `/lista`; a customer's link, a forged, expired or non-consultant token get a 404.
 */
let w: MailWorld;
const sent = () => w.app.outbound.dispatcher.drain();
const SECRET = 'test-secret-key-0123456789abcdef0123456789';

describe("consultants' list", () => {
  beforeEach(async () => {
    w = await mailWorld({}, { start: false });
  });
  afterEach(async () => {
    await w.close();
  });

  it('mails the link on /lista and shows every organization with notes counted, read-only', async () => {
    const a = await w.ingest(rawMail({ from: 'carla@empresa.com', subject: 'BANCOS, extracto', body: 'a' }));
    const b = await w.ingest(rawMail({ from: 'luis@otra.com', subject: 'Licencia vencida', body: 'b' }));
    await sent();
    const toAna = w.sink.to('ana@mesa.test').find((m) => m.subject.includes(`#${a.ticketNumber}`))!;
    await w.ingest(replyTo(toAna, { from: 'ana@mesa.test', body: '/nota\nEl cliente llamó.' }));
    const customerMails = w.sink.to('carla@empresa.com').length;
    await w.ingest(replyTo(toAna, { from: 'ana@mesa.test', body: '/lista' }));
    await sent();
    expect(w.sink.to('carla@empresa.com').length).toBe(customerMails);
    const notice = w.sink.to('ana@mesa.test').at(-1)!;
    expect(notice.text).toContain('Este es su enlace personal a la lista de casos');
    const url = /http:\/\/127\.0\.0\.1:8080(\/consultores\/lista\/\S+)/.exec(notice.text)![1];

    const server = buildServer(w.app);
    try {
      const res = await server.inject({ method: 'GET', url });
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toContain('Casos de todas las organizaciones');
      expect(res.body).toContain('<th scope="col">Notas internas</th>');
      expect(res.body).toContain('empresa.com');
      expect(res.body).toContain('otra.com');
      // The note and the /lista mail itself, both kept as internal notes.
      expect(res.body).toMatch(new RegExp(`#${a.ticketNumber}</a></th>[\\s\\S]*?<td>2</td>\\s*</tr>`));
      expect(res.body).toContain(`#${b.ticketNumber}`);
      expect(res.body).not.toContain('<form class="filters" method="post"');
      const filtered = await server.inject({ method: 'GET', url: `${url}?texto=licencia` });
      expect(filtered.body).toContain('1 caso<');

      // A customer's case link is no consultant token; forged, expired and non-consultant tokens are refused.
      const customer = (await linkPath(w.app, a.ticketNumber!, 'carla@empresa.com')).split('/').pop()!;
      const now = Date.now();
      for (const token of [
        customer,
        `${url.split('/').pop()!.slice(0, -2)}xx`,
        consultantListToken(SECRET, 'ana@mesa.test', now - 1000),
        consultantListToken(SECRET, 'carla@empresa.com', now + 86_400_000),
        consultantListToken('otra-clave-de-al-menos-32-caracteres-xx', 'ana@mesa.test', now + 86_400_000),
      ]) {
        expect((await server.inject({ method: 'GET', url: `/consultores/lista/${token}` })).statusCode).toBe(404);
      }
      expect(new URL(consultantListUrl('http://x', SECRET, 'ana@mesa.test', now)).pathname).toMatch(
        /^\/consultores\/lista\//,
      );
    } finally {
      await server.close();
    }
  });
});
