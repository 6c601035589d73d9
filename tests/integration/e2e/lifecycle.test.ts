import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { testApp, testEnv } from '../../support/app.ts';
import { at, consultantReply, mail } from '../../support/lifecycle.ts';
import { contentOf } from '../../../src/outbound/outbox.ts';
import { readOriginal } from '../../../src/storage/originals.ts';
import { MESA_BIN } from '../../support/built.ts';

/**
 * Through mail (the real ingest path, the real outbox) and the real `mesa jobs --now` command, run as a child
 * process against the same database: what a cron line would do.
 */
const run = promisify(execFile);
const BIN = MESA_BIN;

let app: App;
let env: Record<string, string>;
afterEach(async () => app?.close());

async function setup(extra: Record<string, string> = {}) {
  let now = at('2026-11-23T08:00');
  const vars = { HOLIDAYS_COUNTRY: 'CO', TRUSTED_AUTHSERV_IDS: 'mx.mesa.test', ...extra };
  app = await testApp(vars, { clock: () => now });
  env = {
    ...(testEnv(app.config.dataDir, vars) as Record<string, string>),
    DATABASE_URL: app.config.database.url,
    PATH: process.env.PATH ?? '',
  };
  return {
    setNow: (local: string) => {
      now = at(local);
    },
  };
}

async function mesa(...args: string[]): Promise<any> {
  const { stdout } = await run(process.execPath, [BIN, ...args, '--json'], { env, timeout: 60_000 });
  return JSON.parse(stdout);
}
const mesaJobs = (nowIso: string) => mesa('jobs', '--now', nowIso);

const outbox = async (kind?: string) =>
  (await app.db('outbox').orderBy('id'))
    .filter((r) => !kind || r.kind === kind)
    // The mail as the dispatcher will send it (rendered from the stored template and data).
    .map((r) => {
      const mail = JSON.parse(r.mail_json);
      return { ...r, mail: { ...mail, ...contentOf(mail, app.outbound.renderer, app.config) } };
    });

describe('lifecycle end to end (mail in, mesa jobs --now, mail out)', () => {
  it('a case answered and left waiting on the customer is warned, then closed after 2 business days, with both mails in the outbox', async () => {
    const { setNow } = await setup();
    const opened = await app.ingest.ingest(
      mail(
        {
          From: 'Juan <juan@cliente.co>',
          To: 'soporte@mesa.test',
          Subject: 'BANCOS, Factura mal cargada',
          'Message-ID': '<e1@cliente.co>',
        },
        'La factura 123 no carga.',
      ),
      { kind: 'stdin' },
    );
    expect(opened).toMatchObject({ outcome: 'accepted', effect: 'new_case', ticketNumber: 1 });
    setNow('2026-11-23T10:00');
    expect(
      await app.ingest.ingest(
        consultantReply('ana@mesa.test', 1, 'e2@mesa.test', 'Ya quedó corregida, por favor verifique.'),
        { kind: 'stdin' },
      ),
    ).toMatchObject({ outcome: 'accepted', effect: 'follow_up' });
    expect((await outbox('answer')).map((r) => r.recipient)).toEqual(['juan@cliente.co']);

    expect(await mesaJobs('2026-11-24T09:59:00-05:00')).toMatchObject({ warned: [], closed: [] });
    expect(await mesaJobs('2026-11-24T10:00:00-05:00')).toMatchObject({ warned: [1], closed: [] });
    const [warning] = await outbox('autoclose_warning');
    expect(warning).toMatchObject({
      recipient: 'juan@cliente.co',
      subject: '[Caso #1] BANCOS, Factura mal cargada',
      state: 'pending',
    });
    expect(warning.mail.text).toContain('se cerrará automáticamente el miércoles 25 de noviembre, 10:00');
    expect(warning.mail.text).toMatch(/Consultar mi caso: http:\/\/127\.0\.0\.1:8080\/\S+/);
    expect(warning.mail.headers['Auto-Submitted']).toBe('auto-generated');

    expect(await mesaJobs('2026-11-25T09:59:00-05:00')).toMatchObject({ warned: [], closed: [] });
    expect(await mesaJobs('2026-11-25T10:00:00-05:00')).toMatchObject({ closed: [1] });
    const t = await app.db('tickets').where({ number: 1 }).first();
    expect(t.stage).toBe('cerrado');
    expect(Number(t.closed_at)).toBe(at('2026-11-25T10:00'));
    const closing = await outbox('closed');
    expect(closing.map((r) => [r.recipient, r.subject])).toEqual([
      ['juan@cliente.co', '[Caso #1] BANCOS, Factura mal cargada'],
    ]);
    expect(closing[0].mail.text).toContain('porque no recibimos respuesta suya en 2 días hábiles');
    // The hours the mails promise are the hours the clocks count.
    expect(warning.mail.text).toContain(
      'Horario de atención: lunes a viernes, de 8:00 a 17:00; sábado, de 9:00 a 12:00',
    );
    // Both in the thread of the case, never twice: a later run does nothing.
    expect(warning.mail.references.length).toBeGreaterThan(0);
    expect(await mesaJobs('2026-11-26T10:00:00-05:00')).toMatchObject({ warned: [], closed: [] });
    expect((await outbox('autoclose_warning')).length + (await outbox('closed')).length).toBe(2);
  });

  it('an organization over MAX_OPEN_CASES_PER_ORG gets the refusal listing its open cases, and the held mail is kept and opens later', async () => {
    const { setNow } = await setup({ MAX_OPEN_CASES_PER_ORG: '2', HELD_REQUESTS_AUTO_OPEN: 'true' });
    for (const [i, subject] of ['BANCOS, uno', 'NOMINA, dos'].entries()) {
      expect(
        await app.ingest.ingest(
          mail(
            { From: `p${i}@cliente.co`, To: 'soporte@mesa.test', Subject: subject, 'Message-ID': `<l${i}@cliente.co>` },
            `texto ${i}`,
          ),
          { kind: 'stdin' },
        ),
      ).toMatchObject({ effect: 'new_case' });
    }
    setNow('2026-11-23T09:00');
    const third = mail(
      {
        From: 'Pedro <pedro@cliente.co>',
        To: 'soporte@mesa.test',
        Subject: 'CONTABILIDAD, tres',
        'Message-ID': '<l3@cliente.co>',
      },
      'Texto del tercer caso, con detalle.',
    );
    const r = await app.ingest.ingest(third, { kind: 'stdin' });
    expect(r).toMatchObject({ outcome: 'accepted', effect: 'held', reason: 'over_limit' });
    expect((await app.db('tickets').select('number')).map((x) => Number(x.number)).sort()).toEqual([1, 2]);

    // Nothing lost: the whole raw mail is kept (src/storage/originals.ts), and the request is listed as held.
    const held = await app.db('held_requests').first();
    expect(held).toMatchObject({
      organization: 'cliente.co',
      requester: 'pedro@cliente.co',
      reason: 'over_limit',
      state: 'held',
      subject: 'CONTABILIDAD, tres',
    });
    expect((await readOriginal(app.db, app.blobs, held.raw_sha256)).equals(third)).toBe(true);
    expect(await app.db('ingest_ledger').where({ effect: 'held' }).first()).toMatchObject({
      outcome: 'accepted',
      reason: 'over_limit',
    });
    expect(await mesa('held')).toEqual([
      expect.objectContaining({
        id: held.id,
        requester: 'pedro@cliente.co',
        reason: 'over_limit',
        state: 'held',
        caseNumber: null,
      }),
    ]);

    const [refusal] = await outbox('refusal_over_limit');
    expect(refusal.recipient).toBe('pedro@cliente.co');
    expect(refusal.mail.inReplyTo).toBe('<l3@cliente.co>');
    expect(refusal.mail.text).toMatch(/^Hola Pedro:\n/);
    expect(refusal.mail.text).toContain('ya tiene abiertos tantos casos como permite su contrato (2)');
    // No case to write on: the footer does not invite a reply, as the mail says.
    expect(refusal.mail.text).toContain('No responda a este correo automático');
    expect(refusal.mail.text).not.toContain('responda a este correo sin cambiar el asunto');
    expect(refusal.mail.text).toMatch(/#1 — BANCOS, uno: http:\/\/127\.0\.0\.1:8080\/\S+/);
    expect(refusal.mail.text).toMatch(/#2 — NOMINA, dos: http:\/\/127\.0\.0\.1:8080\/\S+/);

    // A follow-up on an existing case is never limited.
    expect(
      await app.ingest.ingest(
        mail(
          {
            From: 'p0@cliente.co',
            To: 'soporte@mesa.test',
            Subject: 'RE: [Caso #1] BANCOS, uno',
            'Message-ID': '<l4@cliente.co>',
          },
          'más datos',
        ),
        { kind: 'stdin' },
      ),
    ).toMatchObject({ effect: 'follow_up' });

    // Still at the limit: the job leaves it held. Case 1 closes; the next run opens the held request as case 3.
    expect((await mesaJobs('2026-11-23T09:30:00-05:00')).released).toEqual([]);
    setNow('2026-11-23T10:00');
    await app.ingest.ingest(
      mail(
        {
          From: 'ana@mesa.test',
          To: 'soporte@mesa.test',
          Subject: 'RE: [Caso #1] BANCOS, uno',
          'Message-ID': '<l5@mesa.test>',
          'Authentication-Results': 'mx.mesa.test; dmarc=pass header.from=mesa.test',
        },
        '/cerrar\n\nResuelto.',
      ),
      { kind: 'stdin' },
    );
    expect((await app.db('tickets').where({ number: 1 }).first()).stage).toBe('cerrado');
    expect((await mesaJobs('2026-11-23T10:05:00-05:00')).released).toEqual([{ held: held.id, number: 3 }]);
    const opened = await app.db('tickets').where({ number: 3 }).first();
    expect(opened).toMatchObject({
      requester: 'pedro@cliente.co',
      subject: 'CONTABILIDAD, tres',
      organization: 'cliente.co',
    });
    expect((await app.db('messages').where({ ticket_id: opened.id }).first()).body_text).toBe(
      'Texto del tercer caso, con detalle.',
    );
    expect((await app.db('held_requests').first()).state).toBe('opened');
    expect(await mesa('held')).toEqual([]);
    expect(await mesa('held', '--all')).toEqual([
      expect.objectContaining({ id: held.id, state: 'opened', caseNumber: 3 }),
    ]);
    expect((await outbox('confirmation')).map((x) => x.recipient)).toContain('pedro@cliente.co');
  });

  it('a held request from a sender who proved who they are opens when the cases opened that way drop under the limit', async () => {
    const { setNow } = await setup({ MAX_OPEN_CASES_PER_ORG: '1', HELD_REQUESTS_AUTO_OPEN: 'true' });
    const from = (who: string, id: string, subject: string, proven: boolean) =>
      mail(
        {
          From: who,
          To: 'soporte@mesa.test',
          Subject: subject,
          'Message-ID': `<${id}>`,
          ...(proven ? { 'Authentication-Results': 'mx.mesa.test; dmarc=pass header.from=acme.co' } : {}),
        },
        `texto de ${subject}`,
      );
    const ingest = (raw: Buffer) => app.ingest.ingest(raw, { kind: 'stdin' });
    // A forged From opens case 1; Laura proves who she is: her first opens case 2, her second is held.
    expect(await ingest(from('gerencia@acme.co', 'f1@x.invalid', 'Forjado', false))).toMatchObject({ ticketNumber: 1 });
    expect(await ingest(from('laura@acme.co', 'p1@acme.co', 'Factura rechazada', true))).toMatchObject({
      ticketNumber: 2,
    });
    expect(await ingest(from('laura@acme.co', 'p2@acme.co', 'Nómina', true))).toMatchObject({ effect: 'held' });
    expect((await mesaJobs('2026-11-23T08:30:00-05:00')).released).toEqual([]);
    // Case 2 closes; case 1 (forged) stays open, but it does not count against Laura's request.
    setNow('2026-11-23T09:00');
    await ingest(
      mail(
        {
          From: 'ana@mesa.test',
          To: 'soporte@mesa.test',
          Subject: 'RE: [Caso #2] Factura rechazada',
          'Message-ID': '<cierre-2@mesa.test>',
          'Authentication-Results': 'mx.mesa.test; dmarc=pass header.from=mesa.test',
        },
        '/cerrar\n\nResuelto.',
      ),
    );
    const released = (await mesaJobs('2026-11-23T09:05:00-05:00')).released;
    expect(released).toEqual([{ held: expect.any(Number), number: 3 }]);
    expect(await app.db('tickets').where({ number: 3 }).first()).toMatchObject({ requester: 'laura@acme.co' });
    expect((await app.db('tickets').where({ number: 1 }).first()).stage).not.toBe('cerrado');
  });

  it('entitlement: an organization not in the list is refused politely and its mail kept; a listed one opens a case, told to its extra consultant too', async () => {
    const file = path.join(fs.mkdtempSync('/tmp/mesa-cfg-'), 'mesa.yaml');
    fs.writeFileSync(
      file,
      'organizations:\n  - domain: cliente.co\n    maxOpenCases: 5\n    notify: [gerente@mesa.test]\n',
    );
    await setup({ MESA_CONFIG_FILE: file });
    expect(
      await app.ingest.ingest(
        mail(
          { From: 'x@otra.co', To: 'soporte@mesa.test', Subject: 'BANCOS, hola', 'Message-ID': '<n1@otra.co>' },
          'quiero soporte',
        ),
        { kind: 'stdin' },
      ),
    ).toMatchObject({ outcome: 'accepted', effect: 'held', reason: 'not_entitled' });
    expect(
      await app.db('held_requests').where({ reason: 'not_entitled', requester: 'x@otra.co' }).first(),
    ).toBeTruthy();
    const [refusal] = await outbox('refusal_not_entitled');
    expect(refusal.recipient).toBe('x@otra.co');
    expect(refusal.mail.text).toContain('no tiene un contrato de soporte activo');
    expect(
      await app.ingest.ingest(
        mail(
          { From: 'y@cliente.co', To: 'soporte@mesa.test', Subject: 'BANCOS, hola', 'Message-ID': '<n2@cliente.co>' },
          'quiero soporte',
        ),
        { kind: 'stdin' },
      ),
    ).toMatchObject({ effect: 'new_case', ticketNumber: 1 });
    expect((await outbox('consultant_new_case')).map((r) => r.recipient).sort()).toEqual([
      'ana@mesa.test',
      'beto@mesa.test',
      'gerente@mesa.test',
    ]);
  });

  it('the SLA light turns yellow and red at the right times (alta: 2 business hours, filed Saturday 11:00)', async () => {
    const { setNow } = await setup();
    setNow('2026-11-21T11:00');
    await app.ingest.ingest(
      mail(
        {
          From: 'acceso@cliente.co',
          To: 'acceso@mesa.test',
          Subject: 'no puedo entrar',
          'Message-ID': '<a1@cliente.co>',
        },
        'No puedo ingresar al sistema.',
      ),
      { kind: 'stdin' },
    );
    expect((await app.db('tickets').first()).priority).toBe('alta');
    // 1 h on Saturday (to 12:00), then Monday from 08:00: 75% = 1.5 h → Monday 08:30; 2 h → Monday 09:00.
    expect((await mesaJobs('2026-11-21T11:59:00-05:00')).lights).toEqual([{ number: 1, to: 'green' }]);
    expect((await mesaJobs('2026-11-23T08:29:00-05:00')).lights).toEqual([]);
    expect((await mesaJobs('2026-11-23T08:30:00-05:00')).lights).toEqual([{ number: 1, from: 'green', to: 'yellow' }]);
    expect((await mesaJobs('2026-11-23T08:59:00-05:00')).lights).toEqual([]);
    expect((await mesaJobs('2026-11-23T09:00:00-05:00')).lights).toEqual([{ number: 1, from: 'yellow', to: 'red' }]);
  });

  it('the morning digest reaches each consultant with links, most urgent first', async () => {
    const { setNow } = await setup();
    await app.ingest.ingest(
      mail(
        { From: 'a@uno.co', To: 'soporte@mesa.test', Subject: 'BANCOS, antiguo', 'Message-ID': '<g1@uno.co>' },
        'uno',
      ),
      { kind: 'stdin' },
    );
    setNow('2026-11-23T16:00');
    await app.ingest.ingest(
      mail(
        { From: 'b@dos.co', To: 'soporte@mesa.test', Subject: 'NOMINA, reciente', 'Message-ID': '<g2@dos.co>' },
        'dos',
      ),
      { kind: 'stdin' },
    );
    expect((await mesaJobs('2026-11-24T08:00:00-05:00')).digests.sort()).toEqual(['ana@mesa.test', 'beto@mesa.test']);
    const digests = await outbox('digest');
    expect(digests.map((d) => d.recipient).sort()).toEqual(['ana@mesa.test', 'beto@mesa.test']);
    const text: string = digests[0].mail.text;
    expect(digests[0].subject).toBe('Resumen de casos del martes 24 de noviembre');
    expect(text.indexOf('[rojo] #1 BANCOS, antiguo')).toBeGreaterThan(-1);
    expect(text.indexOf('[verde] #2 NOMINA, reciente')).toBeGreaterThan(text.indexOf('[rojo] #1'));
    expect(text).toMatch(/#1 BANCOS[\s\S]*http:\/\/127\.0\.0\.1:8080\/\S+/);
    // The product (none here: no catalogue) and the consultant's signed link to the whole list.
    expect(text).toContain('#1 BANCOS, antiguo — uno.co, producto sin identificar, media');
    expect(text).toMatch(
      /Todos los casos, con filtros \(enlace personal, vence en 7 días\):\nhttp:\/\/127\.0\.0\.1:8080\/consultores\/lista\/\S+/,
    );
  });

  it('a vague subject still opens a case, and the confirmation asks for the module and the problem', async () => {
    await setup();
    expect(
      await app.ingest.ingest(
        mail(
          { From: 'x@cliente.co', To: 'soporte@mesa.test', Subject: 'URGENTE!!', 'Message-ID': '<q1@cliente.co>' },
          'No funciona nada.',
        ),
        { kind: 'stdin' },
      ),
    ).toMatchObject({ effect: 'new_case', ticketNumber: 1 });
    await app.ingest.ingest(
      mail(
        {
          From: 'y@cliente.co',
          To: 'soporte@mesa.test',
          Subject: 'BANCOS, Factura mal cargada',
          'Message-ID': '<q2@cliente.co>',
        },
        'La factura 9 no carga.',
      ),
      { kind: 'stdin' },
    );
    const [vague, clear] = await outbox('confirmation');
    expect(vague.mail.text).toContain('el módulo y el problema, por ejemplo: «BANCOS, Factura mal cargada»');
    expect(vague.mail.html).toContain('el módulo y el problema</strong>');
    expect(clear.mail.text).not.toContain('el módulo y el problema');
  });
});
