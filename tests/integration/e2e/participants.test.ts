import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentOf } from '../../../src/outbound/outbox.ts';
import { rawMail, replyTo } from '../outbound/fixtures.ts';
import type { SinkMessage } from '../../support/smtp-sink.ts';
import { waitFor } from '../../support/wait.ts';
import { mailboxWorld, type MailboxWorld } from '../../support/worlds.ts';

/**
 * Who gets onto a case, through the real path: mail appended to a real Dovecot and taken by the IMAP poller, mail
 * out through a real SMTP server, "Perdí mi enlace" posted over HTTP to the real server (its CSRF cookie and token).
 * The attack: `From: <the requester>` (or an invented colleague at the same domain), `Subject: RE: [Caso #N]`,
 * `Cc: attacker`, no reference to any mail Mesa sent; then the lost-link form for the attacker's address.
 */
let w: MailboxWorld;

beforeAll(async () => {
  w = await mailboxWorld({ TRUSTED_AUTHSERV_IDS: 'mx.mesa.test' });
});

afterAll(async () => {
  await w?.close();
});

let seq = 0;
/** Appends the mail to the support mailbox and waits until the poller has recorded it in the ledger. */
async function deliver(
  raw: Buffer,
): Promise<{ effect: string; reason: string | null; ticket_id: number; message_row_id: number }> {
  const id = /^Message-ID: <([^>]+)>/im.exec(raw.toString('latin1'))![1];
  await w.dovecot.append('support', raw);
  return waitFor(`el buzón entrega ${id}`, () => w.app.db('ingest_ledger').where({ message_id: id }).first());
}

async function openCase(
  requester: string,
  subject: string,
  cc?: string,
): Promise<{ number: number; id: number; confirmation: SinkMessage; toAna: SinkMessage }> {
  const row = await deliver(
    rawMail({
      from: requester,
      subject,
      body: `Buenos días, ${subject.toLowerCase()}.`,
      cc,
      messageId: `open-${++seq}@${requester.split('@')[1]}`,
    }),
  );
  const t = await w.app.db('tickets').where({ id: row.ticket_id }).first();
  const [confirmation] = await w.sink.waitFor((m) => m.to === requester && m.subject.startsWith(`[Caso #${t.number}]`));
  const [toAna] = await w.sink.waitFor((m) => m.to === 'ana@mesa.test' && m.subject.startsWith(`[Caso #${t.number}]`));
  return { number: Number(t.number), id: Number(t.id), confirmation, toAna };
}

const people = async (ticketId: number) =>
  Object.fromEntries(
    (await w.app.db('participants').where({ ticket_id: ticketId })).map((p) => [p.address, p.added_by]),
  );
const outboxTo = (address: string) => w.app.db('outbox').where({ recipient: address });

/** "Perdí mi enlace" as a browser posts it: the form (its CSRF cookie and token), then the POST. */
async function lostLink(correo: string): Promise<number> {
  const form = await fetch(`${w.baseUrl}/perdi-mi-enlace`);
  const cookie = form.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const csrf = /name="_csrf" value="([^"]*)"/.exec(await form.text())![1];
  const res = await fetch(`${w.baseUrl}/perdi-mi-enlace`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf, correo }),
  });
  return res.status;
}

describe('case takeover with a forged From', () => {
  it('a forged follow-up from the requester address with a Cc is kept as unverified text, adds nobody, changes nothing, and the attacker gets no link', async () => {
    const c = await openCase('laura@cliente.co', 'No cuadra el cierre contable');
    // The consultant answers: the case now waits on the customer.
    await deliver(replyTo(c.toAna, { from: 'ana@mesa.test', body: 'Hola Laura, ¿nos envía el reporte del cierre?' }));
    expect((await w.app.db('tickets').where({ id: c.id }).first()).waiting_on).toBe('cliente');

    const forged = await deliver(
      rawMail({
        from: 'laura@cliente.co',
        subject: `RE: [Caso #${c.number}] No cuadra el cierre contable`,
        cc: 'atacante@evil.example',
        body: 'Agrego a mi asesor externo en copia, por favor envíenle todo.',
        messageId: `forged-${++seq}@evil.example`,
      }),
    );
    expect(forged).toMatchObject({ effect: 'follow_up', ticket_id: c.id });
    expect(await people(c.id)).toEqual({ 'laura@cliente.co': 'requester' });
    const kept = await w.app.db('messages').where({ id: forged.message_row_id }).first();
    expect(kept).toMatchObject({ role: 'customer', internal: w.app.config.database.client === 'pg' ? false : 0 });
    expect(Boolean(kept.verified)).toBe(false);
    expect((await w.app.db('tickets').where({ id: c.id }).first()).waiting_on).toBe('cliente');

    // The consultants see the text, marked as not proven.
    const [notice] = await w.sink.waitFor(
      (m) => m.to === 'ana@mesa.test' && m.text.includes('Agrego a mi asesor externo'),
    );
    expect(notice.text).toContain('Remitente sin verificar.');
    expect(notice.html).toContain('Remitente sin verificar.');
    // So does the requester's own page.
    const link = /http:\/\/127\.0\.0\.1:\d+\/caso\/\S+/.exec(c.confirmation.text)![0];
    const page = await (await fetch(link)).text();
    expect(page).toContain('Agrego a mi asesor externo');
    expect(page).toContain('Remitente sin verificar');

    // The form queues its mail before it answers: what the outbox holds after the POST is all it will send.
    expect(await lostLink('atacante@evil.example')).toBe(200);
    expect(await outboxTo('atacante@evil.example')).toEqual([]);
    expect(await w.app.db('links').where({ recipient: 'atacante@evil.example' })).toEqual([]);
    // The same form does mail the requester, and that mail leaves.
    expect(await lostLink('laura@cliente.co')).toBe(200);
    const [lost] = await w.sink.waitFor(
      (m) => m.to === 'laura@cliente.co' && m.subject === 'Sus enlaces para seguir sus casos',
    );
    expect(lost.text).toContain(`#${c.number} — No cuadra el cierre contable`);
    expect(w.sink.to('atacante@evil.example')).toEqual([]);
  });

  it('a forged follow-up from the requester address never reopens a closed case', async () => {
    const c = await openCase('mateo@cliente.co', 'Error en la nómina');
    await deliver(replyTo(c.toAna, { from: 'ana@mesa.test', body: '/cerrar\nQuedó corregido.' }));
    expect((await w.app.db('tickets').where({ id: c.id }).first()).stage).toBe('cerrado');
    const forged = await deliver(
      rawMail({
        from: 'mateo@cliente.co',
        subject: `RE: [Caso #${c.number}] Error en la nómina`,
        body: 'Reabran, sigue igual.',
        messageId: `forged-${++seq}@evil.example`,
      }),
    );
    expect(forged.effect).toBe('follow_up');
    expect((await w.app.db('tickets').where({ id: c.id }).first()).stage).toBe('cerrado');
    expect(await w.app.db('events').where({ ticket_id: c.id, type: 'stage_changed', to_value: 'reabierto' })).toEqual(
      [],
    );
  });

  it.each([
    ['with a Cc', 'atacante2@evil.example'],
    ['without a Cc', undefined],
  ])(
    'an invented colleague at the requester domain (%s) opens a new related case, never writes on the original',
    async (_label, cc) => {
      const requester = `sofia${seq}@cliente.co`;
      const c = await openCase(requester, 'Falla la facturación electrónica');
      const before = await w.app.db('messages').where({ ticket_id: c.id }).count({ n: '*' }).first();
      const forged = await deliver(
        rawMail({
          from: `gerente${seq}@cliente.co`,
          subject: `RE: [Caso #${c.number}] Falla la facturación electrónica`,
          cc,
          body: 'Soy el gerente, copien a nuestro asesor.',
          messageId: `forged-${++seq}@evil.example`,
        }),
      );
      expect(forged).toMatchObject({ effect: 'new_case', reason: 'stranger' });
      expect(forged.ticket_id).not.toBe(c.id);
      expect((await w.app.db('tickets').where({ id: forged.ticket_id }).first()).related_number).toBe(c.number);
      expect(await w.app.db('messages').where({ ticket_id: c.id }).count({ n: '*' }).first()).toEqual(before);
      expect(await people(c.id)).toEqual({ [requester]: 'requester' });
      if (!cc) return;
      // The attacker is on the new case, the one they wrote themselves: their lost-link mail names that case only.
      expect(await lostLink(cc)).toBe(200);
      const [lost] = await outboxTo(cc).where({ kind: 'link_lost' });
      const text = contentOf(JSON.parse(lost.mail_json), w.app.outbound.renderer, w.app.config).text;
      expect(text).toContain(`#${(await w.app.db('tickets').where({ id: forged.ticket_id }).first()).number} — `);
      expect(text).not.toContain(`#${c.number} — `);
      expect(await w.app.db('links').where({ ticket_id: c.id, recipient: cc })).toEqual([]);
    },
  );
});

describe('the legitimate paths keep working', () => {
  const shapes: Array<
    [string, (our: SinkMessage) => { inReplyTo?: string; references?: string[]; headers?: Record<string, string> }]
  > = [
    // Gmail: In-Reply-To the mail answered, References the whole chain.
    [
      'Gmail',
      (our) => ({
        inReplyTo: our.messageId,
        references: [...(our.header('references')?.match(/<[^>]+>/g) ?? []), `<${our.messageId}>`],
      }),
    ],
    // Outlook: In-Reply-To and a References cut to the last id, plus its Thread-Index.
    [
      'Outlook',
      (our) => ({
        inReplyTo: our.messageId,
        references: [our.messageId],
        headers: { 'Thread-Index': 'AdnVx3bqL1Z7m0y8Qk2cQ1Z0dXJ0YQ==' },
      }),
    ],
    // Apple Mail: References only carries ours when In-Reply-To is dropped by a forward-and-edit.
    ['Apple Mail', (our) => ({ references: [`<${our.messageId}>`] })],
  ];

  it.each(shapes)(
    'a customer answering our mail from %s adds the colleague they put in Cc, who can then ask for their link',
    async (client, shape) => {
      const requester = `pilar${seq}@empresa.co`;
      const colleague = `${client.split(' ')[0].toLowerCase()}${seq}@empresa.co`;
      const c = await openCase(requester, 'El inventario no descuenta');
      const answer = await deliver(
        rawMail({
          from: requester,
          subject: `RE: ${c.confirmation.subject}`,
          cc: colleague,
          body: 'Copio a mi compañera, que lleva el inventario.',
          messageId: `reply-${++seq}@empresa.co`,
          ...shape(c.confirmation),
        }),
      );
      expect(answer).toMatchObject({ effect: 'follow_up', ticket_id: c.id });
      expect(await people(c.id)).toEqual({ [requester]: 'requester', [colleague]: 'signed_reply' });
      expect(Boolean((await w.app.db('messages').where({ id: answer.message_row_id }).first()).verified)).toBe(true);
      expect(await lostLink(colleague)).toBe(200);
      const [mail] = await w.sink.waitFor((m) => m.to === colleague);
      expect(mail.text).toContain(`#${c.number}`);
    },
  );

  it('a follow-up whose domain passed DMARC at our receiving server adds its Cc', async () => {
    const c = await openCase('tomas@dmarc-ok.co', 'No llegan los correos de cobro');
    const r = await deliver(
      rawMail({
        from: 'tomas@dmarc-ok.co',
        subject: `[Caso #${c.number}] No llegan los correos de cobro`,
        cc: 'cartera@dmarc-ok.co',
        body: 'Copio a cartera.',
        messageId: `dmarc-${++seq}@dmarc-ok.co`,
        headers: {
          'Authentication-Results':
            'mx.mesa.test; spf=pass smtp.mailfrom=dmarc-ok.co; dkim=pass header.d=dmarc-ok.co; dmarc=pass header.from=dmarc-ok.co',
        },
      }),
    );
    expect(r.effect).toBe('follow_up');
    expect(await people(c.id)).toEqual({ 'tomas@dmarc-ok.co': 'requester', 'cartera@dmarc-ok.co': 'dmarc' });
  });

  it("a consultant's cc + adds a person who gets that very answer; cc - removes them and their link stops working", async () => {
    const c = await openCase('irene@cliente.co', 'Permisos del módulo de compras');
    await deliver(
      replyTo(c.toAna, {
        from: 'ana@mesa.test',
        body: 'cc +jefe.compras@cliente.co\nHola Irene, copio a su jefe de compras para aprobar el permiso.',
      }),
    );
    expect(await people(c.id)).toEqual({ 'irene@cliente.co': 'requester', 'jefe.compras@cliente.co': 'consultant' });
    const [answer] = await w.sink.waitFor(
      (m) => m.to === 'jefe.compras@cliente.co' && m.text.includes('copio a su jefe de compras'),
    );
    expect(answer.text).not.toMatch(/^cc \+/m);
    const link = /http:\/\/127\.0\.0\.1:\d+\/caso\/\S+/.exec(answer.text)![0];
    expect((await fetch(link)).status).toBe(200);

    await deliver(
      replyTo(c.toAna, {
        from: 'ana@mesa.test',
        body: '/quitar jefe.compras@cliente.co\n/nota\nYa aprobó; lo saco del caso.',
      }),
    );
    expect(await people(c.id)).toEqual({ 'irene@cliente.co': 'requester' });
    expect((await fetch(link)).status).toBe(410);
    expect(
      await w.app
        .db('events')
        .where({ ticket_id: c.id, type: 'participant_removed', to_value: 'jefe.compras@cliente.co' })
        .first(),
    ).toMatchObject({ actor: 'ana@mesa.test' });
  });
});

describe('fan-out', () => {
  it('a mail with 5,000 addresses in Cc opens a case with 10 of them; the rest is recorded and the consultants are told', async () => {
    const cc = Array.from({ length: 5000 }, (_, i) => `persona${i}@masivo.co`).join(',\r\n ');
    const c = await openCase('origen@masivo.co', 'Consulta masiva', cc);
    const onCase = await people(c.id);
    expect(Object.keys(onCase)).toHaveLength(11);
    expect(Object.values(onCase).filter((v) => v === 'opening')).toHaveLength(10);
    const capped = await w.app.db('events').where({ ticket_id: c.id, type: 'participants_capped' }).first();
    expect(JSON.parse(capped.data_json)).toMatchObject({ dropped: 4990, limit: 'per_mail', max: 10 });
    expect(c.toAna.text).toContain('4990 direcciones no se agregaron al caso (límite de 10 por correo)');

    await deliver(replyTo(c.toAna, { from: 'ana@mesa.test', body: 'Recibido, lo revisamos.' }));
    const answers = await w.sink.waitFor((m) => m.text.includes('Recibido, lo revisamos.'), { count: 11 });
    expect(answers).toHaveLength(11);
    expect(await w.app.db('outbox').where({ kind: 'answer' }).whereLike('recipient', '%@masivo.co')).toHaveLength(11);
    expect(await w.app.db('links').where({ ticket_id: c.id }).whereLike('recipient', '%@masivo.co')).toHaveLength(11);
  });
});
