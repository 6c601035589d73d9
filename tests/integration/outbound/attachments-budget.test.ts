import { afterEach, describe, expect, it } from 'vitest';
import type { SinkMessage } from '../../support/smtp-sink.ts';
import { type LiveWorld, liveWorld } from '../../support/worlds.ts';
import { waitFor } from '../../support/wait.ts';
import { rawMail } from './fixtures.ts';

/**
 * The files one outgoing mail carries, together, stop at MAIL_ATTACH_MAX_BYTES: the rest are listed in the mail as
 * on the case page, which serves them. Through the real path: ingest, outbox, a real SMTP server, the web server.
 */
let w: LiveWorld;
const CUSTOMER = 'carla@empresa.com';
const ON_PAGE = 'no va adjunto por su tamaño: descárguelo desde la página del caso';
const ACTA = { filename: 'acta.pdf', content: 'a'.repeat(60) };
const RESPALDO = { filename: 'respaldo.zip', content: 'r'.repeat(500), type: 'application/zip' };
const FOTO = { filename: 'foto.png', content: 'f'.repeat(30), type: 'image/png' };

/** The first mail to `address` that `pred` accepts, once the running dispatcher has sent it. */
const mailTo = async (address: string, pred: (m: SinkMessage) => boolean = () => true) =>
  (await w.sink.waitFor((m) => m.envelopeTo.includes(address) && pred(m)))[0];
const lineOf = (m: SinkMessage, filename: string) => m.text.split('\n').find((l) => l.includes(filename)) ?? '';

/** The file `filename` as the case page behind `m`'s link serves it. */
async function fromCasePage(m: SinkMessage, filename: string): Promise<string> {
  const url = new URL(/http:\/\/127\.0\.0\.1:\d+\/caso\/[^\s"<>]+/.exec(m.text)![0]);
  const page = await w.server.inject({ method: 'GET', url: url.pathname });
  expect(page.statusCode).toBe(200);
  const links = [...page.body.matchAll(/href="([^"]+\/adjuntos\/\d+)"[^>]*>([^<]*)</g)];
  const href = links.find((l) => l[2].includes(filename))?.[1];
  expect(href, `${filename} en la página`).toBeDefined();
  const file = await w.server.inject({ method: 'GET', url: href! });
  expect(file.statusCode).toBe(200);
  return file.body;
}

describe('files beyond what one mail carries', () => {
  afterEach(async () => {
    await w.close();
  });

  it("attaches a case's files to the consultants' notice while they fit together, and lists the rest as on the page", async () => {
    w = await liveWorld({ MAIL_ATTACH_MAX_BYTES: '100' });
    const r = await w.ingest(
      rawMail({ from: CUSTOMER, subject: 'Respaldo', body: 'Adjunto lo pedido.', attachments: [ACTA, RESPALDO, FOTO] }),
    );
    expect(r.outcome).toBe('accepted');
    const notice = await mailTo('ana@mesa.test');
    // In order, while they fit: 60 of 100 bytes, then 500 does not fit, then 30 still does.
    expect(notice.parsed.attachments.map((a) => a.filename)).toEqual(['acta.pdf', 'foto.png']);
    expect(notice.parsed.attachments[1].content.toString()).toBe(FOTO.content);
    expect(lineOf(notice, 'respaldo.zip')).toContain(ON_PAGE);
    expect(lineOf(notice, 'acta.pdf')).not.toContain(ON_PAGE);
    expect(notice.html).toContain(ON_PAGE);
    expect(await fromCasePage(notice, 'respaldo.zip')).toBe(RESPALDO.content);

    // The confirmation lists the customer's own files and carries none: nothing to mark.
    const confirmation = await mailTo(CUSTOMER);
    expect(confirmation.parsed.attachments).toEqual([]);
    expect(confirmation.text).toContain('respaldo.zip');
    expect(confirmation.text).not.toContain(ON_PAGE);
    // Nothing refused for its size: the three mails are recorded as sent.
    await waitFor('the three mails recorded as sent', async () => {
      const states = await w.app.db('outbox').pluck('state');
      return states.length === 3 && states.every((s) => s === 'sent');
    });
  });

  it("lists a consultant's file too large to carry in the answer to the customer, who gets it from the page", async () => {
    w = await liveWorld({ MAIL_ATTACH_MAX_BYTES: '100' });
    await w.ingest(rawMail({ from: CUSTOMER, subject: 'No puedo facturar', body: 'Sale el error E-42.' }));
    const notice = await mailTo('ana@mesa.test');
    const refs = [...(String(notice.header('references') ?? '').match(/<[^>]+>/g) ?? []), `<${notice.messageId}>`];
    const reply = rawMail({
      from: 'ana@mesa.test',
      subject: `Re: ${notice.subject}`,
      body: 'Carla, le envío el instalador corregido.',
      inReplyTo: notice.messageId,
      references: refs,
      attachments: [RESPALDO],
    });
    expect((await w.ingest(reply)).effect).toBe('follow_up');
    const answer = await mailTo(CUSTOMER, (m) => m.text.includes('instalador corregido'));
    expect(answer.parsed.attachments).toEqual([]);
    expect(lineOf(answer, 'respaldo.zip')).toContain(ON_PAGE);
    expect(await fromCasePage(answer, 'respaldo.zip')).toBe(RESPALDO.content);
  });

  it('carries every file under the default budget of 10 MB', async () => {
    w = await liveWorld();
    expect(w.app.config.outbound.attachMaxBytes).toBe(10 * 1024 * 1024);
    await w.ingest(rawMail({ from: CUSTOMER, subject: 'Respaldo', body: 'Adjunto.', attachments: [ACTA, RESPALDO] }));
    const notice = await mailTo('ana@mesa.test');
    expect(notice.parsed.attachments.map((a) => a.filename)).toEqual(['acta.pdf', 'respaldo.zip']);
    expect(notice.text).not.toContain(ON_PAGE);
  });
});
