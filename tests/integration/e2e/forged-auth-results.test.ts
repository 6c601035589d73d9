import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { caseDetail } from '../../../src/services/case-view.ts';
import type { Dovecot } from '../../support/dovecot.ts';
import type { SmtpSink } from '../../support/smtp-sink.ts';
import { waitFor } from '../../support/wait.ts';
import { mailboxWorld, type MailboxWorld } from '../../support/worlds.ts';
import { rawMail } from '../outbound/fixtures.ts';

/**
 * Forged Authentication-Results (issue 23): a consultant's mail that answers none of our notifications is believed
 * only on the results our own receiving server (authserv-id mx.mesa.test) wrote on top of the header. Every mail
 * here lands in a real Dovecot and is taken by the IMAP poller; what it caused is read in the SMTP sink and on the
 * case. A spoofed consultant's commands never run and their text never reaches the customer.
 */
let world: MailboxWorld;
let dovecot: Dovecot;
let sink: SmtpSink;
let app: App;
const CUSTOMER = 'lucia@cooperativa.co';

beforeAll(async () => {
  world = await mailboxWorld({ TRUSTED_AUTHSERV_IDS: 'mx.mesa.test' });
  ({ dovecot, sink, app } = world);
});

afterAll(async () => {
  await world?.close();
});

const BORDER =
  'Received: from mail.atacante.example (mail.atacante.example [203.0.113.9])\r\n\tby mx.mesa.test (Postfix) with ESMTPS id 4F1A2;\r\n\tMon, 1 Dec 2026 10:00:00 +0000';
const LMTP = 'Received: from mx.mesa.test by imap.mesa.test with LMTP id 9x8y7;\r\n\tMon, 1 Dec 2026 10:00:01 +0000';
const ar = (v: string) => `Authentication-Results: ${v}`;
const PASS = ar('mx.mesa.test; dkim=pass header.d=mesa.test header.s=s1; dmarc=pass (p=reject) header.from=mesa.test');

/** Trace fields as relays write them: prepended, above what the sender wrote (`senderFields` go below From). */
function delivered(
  top: string[],
  number: number,
  body: string,
  senderFields: Record<string, string> = {},
): { raw: Buffer; id: string } {
  const id = `${Math.random().toString(36).slice(2)}@mesa.test`;
  const mail = rawMail({
    from: 'ana@mesa.test',
    fromName: 'Ana Pérez',
    subject: `RE: [Caso #${number}] El reporte no descarga`,
    body,
    messageId: id,
    headers: senderFields,
  });
  return { raw: Buffer.concat([Buffer.from(top.map((l) => `${l}\r\n`).join('')), mail]), id };
}

async function ingested(id: string): Promise<void> {
  await waitFor(
    `ledger de ${id}`,
    async () => (await app.db('ingest_ledger').where({ message_id: id }).first()) ?? undefined,
  );
}

describe('Authentication-Results through Dovecot', () => {
  let number = 0;
  let spoofed = 0;

  beforeAll(async () => {
    await dovecot.append(
      'support',
      rawMail({ from: CUSTOMER, subject: 'El reporte no descarga', body: 'Aparece una página en blanco.' }),
    );
    const [conf] = await sink.waitFor((m) => m.to === CUSTOMER);
    number = Number(/\[Caso #(\d+)\]/.exec(conf.subject)![1]);
  });

  it.each([
    [
      "a forged pass below our border MTA's Received",
      [BORDER],
      { 'Authentication-Results': 'mx.mesa.test; dmarc=pass header.from=mesa.test' },
    ],
    [
      'a forged pass under the real fail on top',
      [ar('mx.mesa.test; dmarc=fail (p=reject) header.from=mesa.test'), BORDER, PASS],
      {},
    ],
    [
      'a pass from an authserv-id we do not trust, on top',
      [ar('mx.atacante.example; dmarc=pass header.from=mesa.test'), BORDER],
      {},
    ],
    ['our authserv-id, but below another Received', [LMTP, PASS, BORDER], {}],
  ])('%s: the text stays internal, unverified, and the /cerrar does not run', async (_what, top, senderFields) => {
    const before = sink.to(CUSTOMER).length;
    const m = delivered(
      top as string[],
      number,
      `/cerrar\nSu clave nueva es 1234: ${_what}`,
      senderFields as Record<string, string>,
    );
    await dovecot.append('support', m.raw);
    await ingested(m.id);
    // Ana is told her mail could not be verified: one more such notice.
    await sink.waitFor((x) => x.to === 'ana@mesa.test' && /no se envió al cliente/.test(x.text), { count: ++spoofed });
    await app.outbound.dispatcher.drain();
    expect(sink.to(CUSTOMER).length).toBe(before);
    expect(sink.messages.some((x) => x.text.includes('Su clave nueva'))).toBe(false);
    const d = (await caseDetail(app.db, number, { includeInternal: true }))!;
    expect(d.stage).toBe('abierto');
    expect(d.messages.at(-1)).toMatchObject({ role: 'consultant', internal: true, verified: false });
  });

  it('the real pass our receiving server wrote on top still authenticates: the text reaches the customer and the command runs', async () => {
    const m = delivered([PASS, BORDER], number, '/etapa analisis\nYa encontramos la causa: el filtro de fechas.');
    await dovecot.append('support', m.raw);
    const [answer] = await sink.waitFor((x) => x.to === CUSTOMER && x.text.includes('el filtro de fechas'));
    expect(answer.subject).toContain(`[Caso #${number}]`);
    const d = (await caseDetail(app.db, number, { includeInternal: true }))!;
    expect(d.stage).toBe('analisis');
    expect(d.messages.at(-1)).toMatchObject({ role: 'consultant', internal: false, verified: true });
  });
});
