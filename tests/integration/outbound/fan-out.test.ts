import { afterEach, expect, it } from 'vitest';
import { rawMail, replyTo } from './fixtures.ts';
import { type MailWorld, mailWorld } from '../../support/worlds.ts';

/**
 * MAX_RECIPIENTS_PER_ANSWER: one consultant answer never goes to more people than that, whatever the case holds
 * (here a case whose Cc is at the per-mail cap, above the per-answer one). The requester comes first; the excess
 * is recorded on the case. Through the real ingest path and a real SMTP server.
 */
let w: MailWorld | undefined;
afterEach(async () => w?.close());

it('an answer goes to at most MAX_RECIPIENTS_PER_ANSWER people, the requester first, and the rest is recorded', async () => {
  w = await mailWorld({
    MAX_PARTICIPANTS_PER_MAIL: '5',
    MAX_RECIPIENTS_PER_ANSWER: '3',
    TRUSTED_AUTHSERV_IDS: 'mx.mesa.test',
  });
  const cc = ['uno', 'dos', 'tres', 'cuatro', 'cinco', 'seis'].map((n) => `${n}@muchos.co`);
  const opened = await w.ingest(
    rawMail({
      from: 'jefa@muchos.co',
      subject: 'Varios usuarios sin acceso',
      cc: cc.join(', '),
      body: 'Ninguno puede entrar.',
    }),
  );
  expect(opened).toMatchObject({ outcome: 'accepted', effect: 'new_case' });
  const t = await w.app.db('tickets').where({ number: opened.ticketNumber }).first();
  expect((await w.app.db('participants').where({ ticket_id: t.id })).map((p) => p.address).sort()).toEqual(
    ['jefa@muchos.co', ...cc.slice(0, 5)].sort(),
  );

  const [toAna] = await w.sink.waitFor((m) => m.to === 'ana@mesa.test');
  expect(toAna.text).toContain('1 direcciones no se agregaron al caso (límite de 5 por correo)');
  await w.ingest(
    replyTo(toAna, {
      from: 'ana@mesa.test',
      body: 'Ya restablecimos el acceso.',
      headers: { 'Authentication-Results': 'mx.mesa.test; dmarc=pass header.from=mesa.test' },
    }),
  );
  const sent = await w.sink.waitFor((m) => m.text.includes('Ya restablecimos el acceso.'), { count: 3 });
  expect(sent.map((m) => m.to)).toContain('jefa@muchos.co');
  // The requester, then the earliest added; added together (by one mail), by address.
  expect((await w.app.db('outbox').where({ kind: 'answer' }).orderBy('id')).map((r) => r.recipient)).toEqual([
    'jefa@muchos.co',
    'cinco@muchos.co',
    'cuatro@muchos.co',
  ]);
  const capped = await w.app.db('events').where({ ticket_id: t.id, type: 'fanout_capped' }).first();
  expect(JSON.parse(capped.data_json)).toEqual({ sent: 3, skipped: 3, kind: 'respuesta' });
  expect(capped.reason).toContain(
    'enviado a 3 de 6 personas (MAX_RECIPIENTS_PER_ANSWER); sin enviar: dos@muchos.co, tres@muchos.co, uno@muchos.co',
  );
});
