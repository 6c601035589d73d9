import { simpleParser } from 'mailparser';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { classifySmtpError } from '../../../src/outbound/dispatcher.ts';
import { ComposeThread } from '../../../src/outbound/compose-thread.ts';
import { composeMessage } from '../../../src/outbound/compose.ts';
import type { OutgoingMail } from '../../../src/outbound/outgoing.ts';
import { BUILT_COMPOSE_WORKER } from '../../support/built.ts';
import { waitFor } from '../../support/wait.ts';

/**
 * The compose thread (src/outbound/compose-thread.ts): the message it composes is the one nodemailer writes on the
 * calling thread, and when the thread cannot start, ends while composing, or refuses a mail, the mail is still
 * composed (or refused for what it is), never lost or stuck. The built body runs here, as under `mesa start`.
 */
const MISBEHAVING = new URL('../../support/misbehaving-compose-worker.mjs', import.meta.url);

function recordingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s)) });
  return { logger, lines };
}

let threads: ComposeThread[] = [];
afterEach(async () => {
  await Promise.all(threads.map((t) => t.close()));
  threads = [];
});
function thread(workerUrl: URL = BUILT_COMPOSE_WORKER, enabled = true, idleMs?: number, stuckMs?: number) {
  const { logger, lines } = recordingLogger();
  const t = new ComposeThread({ logger, workerUrl, enabled, idleMs, stuckMs });
  threads.push(t);
  return { t, lines };
}

const mail = (subject: string, extra: Partial<OutgoingMail> = {}): OutgoingMail => ({
  from: { name: 'Soporte Ñandú', address: 'soporte@mesa.test' },
  to: 'cliente@empresa.com.co',
  replyTo: 'soporte@mesa.test',
  subject,
  html: '<p>Su caso <b>#42</b> está en revisión.</p>\n.\n<p>Línea que empieza con punto: .net</p>',
  text: 'Su caso #42 está en revisión.\n.\nLínea que empieza con punto: .net',
  messageId: '<m42.abc@mesa.test>',
  date: new Date('2026-12-07T12:00:00Z'),
  inReplyTo: '<orig@cliente.co>',
  references: '<orig@cliente.co>',
  headers: { 'Auto-Submitted': 'auto-replied', 'X-Mesa-Case': '42' },
  textEncoding: 'quoted-printable',
  envelope: { from: 'soporte@mesa.test', to: ['cliente@empresa.com.co'] },
  ...extra,
});

/** What a reader of the mail sees: the fields a mail client shows and threads by. */
async function read(raw: Buffer) {
  const m = await simpleParser(raw);
  return {
    from: m.from?.text,
    to: m.to && !Array.isArray(m.to) ? m.to.text : undefined,
    subject: m.subject,
    messageId: m.messageId,
    inReplyTo: m.inReplyTo,
    references: m.references,
    date: m.date?.toISOString(),
    html: m.html,
    text: m.text,
    autoSubmitted: m.headers.get('auto-submitted'),
    mesaCase: m.headers.get('x-mesa-case'),
  };
}

describe('compose thread', () => {
  it('composes on the thread the same message nodemailer composes here, and hands it over with its envelope', async () => {
    const { t, lines } = thread();
    const sent = await t.outgoing(mail('[Caso #42] Factura con tildes'));
    expect(sent.envelope).toEqual({ from: 'soporte@mesa.test', to: ['cliente@empresa.com.co'] });
    expect(Buffer.isBuffer(sent.raw)).toBe(true);
    expect(t.composedThere).toBe(1);
    expect(t.composedHere).toBe(0);
    const { envelope: _e, ...options } = mail('[Caso #42] Factura con tildes');
    const here = await read(await composeMessage(options));
    expect(await read(sent.raw as Buffer)).toEqual(here);
    expect(here).toMatchObject({ subject: '[Caso #42] Factura con tildes', messageId: '<m42.abc@mesa.test>' });
    expect(lines.filter((l) => Number(l.level) >= 40)).toEqual([]);
  });

  it('leaves mail with files to be composed as it is sent, streaming them', async () => {
    const { t } = thread();
    const withFile = mail('con adjunto', {
      attachments: [{ filename: 'a.txt', contentType: 'text/plain', path: '/no/se/lee/aqui.txt' }],
    });
    expect(await t.outgoing(withFile)).toBe(withFile);
    expect(t.composedThere + t.composedHere).toBe(0);
  });

  it('composes here, with one warning, when the thread cannot start', async () => {
    const { t, lines } = thread(new URL('./no-such-compose-worker.js', import.meta.url));
    const sent = await Promise.all([t.outgoing(mail('uno')), t.outgoing(mail('dos'))]);
    expect(await Promise.all(sent.map(async (s) => (await read(s.raw as Buffer)).subject))).toEqual(['uno', 'dos']);
    expect(t.composedHere).toBe(2);
    const more = await t.outgoing(mail('tres'));
    expect((await read(more.raw as Buffer)).subject).toBe('tres');
    expect(t.composedHere).toBe(3);
    expect(
      lines.filter(
        (l) => l.msg === 'no se pudo iniciar el hilo de composición; el correo se compone en el hilo principal',
      ),
    ).toHaveLength(1);
  });

  it('composes a mail here when asked to, without starting the thread', async () => {
    const { t } = thread();
    const sent = await t.outgoing(mail('uno solo'), { here: true });
    expect((await read(sent.raw as Buffer)).subject).toBe('uno solo');
    expect([t.composedHere, t.composedThere, t.running]).toEqual([1, 0, false]);
  });

  it('ends the thread after a while without mail, and starts another for the next burst', async () => {
    const { t } = thread(BUILT_COMPOSE_WORKER, true, 50);
    await t.outgoing(mail('ráfaga'));
    expect(t.running).toBe(true);
    await waitFor('el hilo ocioso termina', () => !t.running);
    expect((await read((await t.outgoing(mail('otra ráfaga'))).raw as Buffer)).subject).toBe('otra ráfaga');
    expect([t.composedThere, t.running]).toEqual([2, true]);
  });

  it('with COMPOSE_WORKER=false, composes here without starting a thread or warning', async () => {
    const { t, lines } = thread(MISBEHAVING, false);
    const sent = await t.outgoing(mail('crash-composer'));
    expect((await read(sent.raw as Buffer)).subject).toBe('crash-composer');
    expect([t.composedHere, t.composedThere]).toEqual([1, 0]);
    expect(lines).toEqual([]);
  });

  it('composes here what the thread had when it ended, and starts another for the next mail', async () => {
    const { t, lines } = thread(MISBEHAVING);
    const before = await t.outgoing(mail('antes'));
    expect(t.composedThere).toBe(1);
    const [crashed, behind] = await Promise.all([t.outgoing(mail('crash-composer')), t.outgoing(mail('detrás'))]);
    expect((await read(crashed.raw as Buffer)).subject).toBe('crash-composer');
    expect((await read(behind.raw as Buffer)).subject).toBe('detrás');
    expect((await read(before.raw as Buffer)).subject).toBe('antes');
    expect(t.composedHere).toBe(2);
    expect(lines.filter((l) => String(l.msg).startsWith('el hilo de composición terminó'))).toMatchObject([
      { code: 3, mails: 2 },
    ]);
    const after = await t.outgoing(mail('después'));
    expect((await read(after.raw as Buffer)).subject).toBe('después');
    expect(t.composedThere).toBe(2);
  });

  it('stops a thread that answers nothing, composes its mail here, and starts another for the next', async () => {
    const { t, lines } = thread(MISBEHAVING, true, undefined, 300);
    await t.outgoing(mail('calienta'));
    const [stuck, behind] = await Promise.all([t.outgoing(mail('hang-composer')), t.outgoing(mail('detrás'))]);
    expect((await read(stuck.raw as Buffer)).subject).toBe('hang-composer');
    expect((await read(behind.raw as Buffer)).subject).toBe('detrás');
    expect(t.composedHere).toBe(2);
    expect(lines.map((l) => l.msg)).toContain('el hilo de composición no responde: se detiene');
    expect((await read((await t.outgoing(mail('después'))).raw as Buffer)).subject).toBe('después');
    expect(t.composedThere).toBe(2);
  });

  it('refuses a mail the thread cannot compose with its reason, as a permanent failure', async () => {
    const { t } = thread(MISBEHAVING);
    const err = await t.outgoing(mail('refused-composer')).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toBe('mensaje imposible');
    expect(classifySmtpError(err)).toBe('permanent');
    expect((await read((await t.outgoing(mail('siguiente'))).raw as Buffer)).subject).toBe('siguiente');
  });

  it('on close, gives up what it had not composed (nobody sends it), and composes again afterwards', async () => {
    const { t } = thread();
    await t.outgoing(mail('calienta'));
    const givenUp = expect(t.outgoing(mail('a medias'))).rejects.toThrow('el despachador se detuvo');
    await t.close();
    await givenUp;
    expect((await read((await t.outgoing(mail('luego'))).raw as Buffer)).subject).toBe('luego');
  });
});
