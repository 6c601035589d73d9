import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { testApp } from '../../support/app.ts';
import { at, consultantReply, customerReply, jobsAt, mail, RecordingNotifier } from '../../support/lifecycle.ts';

let app: App;
afterEach(async () => app?.close());

async function setup(env: Record<string, string> = {}) {
  let now = at('2026-11-23T08:00');
  app = await testApp({ HOLIDAYS_COUNTRY: 'CO', TRUSTED_AUTHSERV_IDS: 'mx.mesa.test', ...env }, { clock: () => now });
  const seen = new RecordingNotifier();
  app.cases.addNotifier(seen);
  return {
    seen,
    setNow: (local: string) => {
      now = at(local);
    },
  };
}

/** A customer's new case, through the ingest as a mail with no reference to anything Mesa sent. */
function fileCase(subject: string, messageId: string, body: string, from = 'ana@cliente.co') {
  return app.ingest.ingest(
    mail({ From: from, To: 'soporte@mesa.test', Subject: subject, 'Message-ID': `<${messageId}>` }, body),
    {
      kind: 'stdin',
    },
  );
}

/** Beto answers case 1 by Reply, authenticated by the receiving server (mx.mesa.test). */
function betoAnswers(messageId: string, body: string) {
  return app.ingest.ingest(consultantReply('beto@mesa.test', 1, messageId, body), { kind: 'stdin' });
}

describe('mesa jobs: SLA light', () => {
  it('turns a media case yellow at 75% of its 8 business hours and red at 8 h, once each', async () => {
    const { seen } = await setup();
    await fileCase('BANCOS, Factura mal cargada', 's1@cliente.co', 'No carga.');

    expect((await jobsAt(app, '2026-11-23T13:59')).lights).toEqual([{ number: 1, to: 'green' }]);
    expect((await jobsAt(app, '2026-11-23T14:00')).lights).toEqual([{ number: 1, from: 'green', to: 'yellow' }]);
    expect((await jobsAt(app, '2026-11-23T15:59')).lights).toEqual([]);
    expect((await jobsAt(app, '2026-11-23T16:00')).lights).toEqual([{ number: 1, from: 'yellow', to: 'red' }]);

    const logged = await app.db('events').where({ type: 'sla_changed' }).orderBy('id');
    expect(logged.map((e) => [e.from_value, e.to_value, new Date(Number(e.created_at)).toISOString()])).toEqual([
      [null, 'green', '2026-11-23T18:59:00.000Z'],
      ['green', 'yellow', '2026-11-23T19:00:00.000Z'],
      ['yellow', 'red', '2026-11-23T21:00:00.000Z'],
    ]);
    expect(seen.of('sla_changed').map((e) => e.to)).toEqual(['green', 'yellow', 'red']);
    expect((await app.db('tickets').first()).sla_light).toBe('red');
  });

  it('does not count the night or the weekend: filed Friday 16:00, yellow at Monday 10:00', async () => {
    const { setNow } = await setup();
    setNow('2026-11-20T16:00');
    await fileCase('NOMINA, no liquida', 's2@cliente.co', 'Falla.');
    // 1 h Friday + 3 h Saturday + 2 h Monday = 6 h of 8: yellow exactly at Monday 10:00.
    expect((await jobsAt(app, '2026-11-23T09:59')).lights).toEqual([{ number: 1, to: 'green' }]);
    expect((await jobsAt(app, '2026-11-23T10:00')).lights).toEqual([{ number: 1, from: 'green', to: 'yellow' }]);
  });
});

describe('mesa jobs: auto-close', () => {
  it('warns after one business day waiting on the customer, closes after two, and records both', async () => {
    const { seen, setNow } = await setup();
    await fileCase('BANCOS, conciliación', 'c1@cliente.co', 'No concilia.');
    setNow('2026-11-23T10:00');
    const answered = await betoAnswers('r1@mesa.test', 'Pruebe ahora, por favor.');
    expect(answered).toMatchObject({ outcome: 'accepted', effect: 'follow_up' });
    expect((await app.db('tickets').first()).waiting_on).toBe('cliente');

    expect((await jobsAt(app, '2026-11-24T09:59')).warned).toEqual([]);
    expect((await jobsAt(app, '2026-11-24T10:00')).warned).toEqual([1]);
    expect((await jobsAt(app, '2026-11-24T12:00')).warned).toEqual([]); // once
    expect((await jobsAt(app, '2026-11-25T09:59')).closed).toEqual([]);
    const done = await jobsAt(app, '2026-11-25T10:00');
    expect(done.closed).toEqual([1]);

    const t = await app.db('tickets').first();
    expect(t.stage).toBe('cerrado');
    const events = await app.db('events').whereIn('type', ['autoclose_warning', 'stage_changed']).orderBy('id');
    expect(events.map((e) => [e.type, e.actor, e.to_value])).toEqual([
      ['autoclose_warning', 'sistema', null],
      ['stage_changed', 'sistema', 'cerrado'],
    ]);
    expect(events[1].reason).toMatch(/cierre automático: 2 días hábiles/);
    expect(seen.of('autoclose_warning')).toHaveLength(1);
    expect(seen.of('stage_changed').map((e) => e.to)).toEqual(['cerrado']);
  });

  it('a customer reply after the warning cancels the closing', async () => {
    const { setNow } = await setup();
    await fileCase('BANCOS, conciliación', 'c2@cliente.co', 'No concilia.');
    setNow('2026-11-23T10:00');
    await betoAnswers('r2@mesa.test', 'Pruebe ahora.');
    expect((await jobsAt(app, '2026-11-24T10:00')).warned).toEqual([1]);
    setNow('2026-11-24T15:00');
    await app.ingest.ingest(
      customerReply('ana@cliente.co', 1, 'BANCOS, conciliación', 'c3@cliente.co', 'Sigue sin conciliar.'),
      { kind: 'stdin' },
    );
    const later = await jobsAt(app, '2026-11-27T10:00');
    expect(later.closed).toEqual([]);
    expect((await app.db('tickets').first()).stage).not.toBe('cerrado');
  });

  it('a reply that proves nothing (no reference to our mail, no DMARC) is kept for support but does not hold the closing', async () => {
    const { setNow } = await setup();
    await fileCase('BANCOS, conciliación', 'u1@cliente.co', 'No concilia.');
    setNow('2026-11-23T10:00');
    await betoAnswers('u2@mesa.test', 'Pruebe ahora.');
    expect((await jobsAt(app, '2026-11-24T10:00')).warned).toEqual([1]);
    setNow('2026-11-24T15:00');
    // Anyone can write this From: it must not keep a case open (nor reopen one) on the customer's behalf.
    expect(
      await app.ingest.ingest(
        mail(
          {
            From: 'ana@cliente.co',
            To: 'soporte@mesa.test',
            Subject: 'RE: [Caso #1] BANCOS, conciliación',
            'Message-ID': '<u3@cliente.co>',
          },
          'No lo cierren.',
        ),
        { kind: 'stdin' },
      ),
    ).toMatchObject({ outcome: 'accepted', effect: 'follow_up' });
    expect(await app.db('tickets').first()).toMatchObject({ waiting_on: 'cliente' });
    expect((await jobsAt(app, '2026-11-27T10:00')).closed).toEqual([1]);
    expect(Boolean((await app.db('messages').where({ message_id: 'u3@cliente.co' }).first()).verified)).toBe(false);
  });
});

describe('mesa jobs: digest', () => {
  it('sends each consultant, once per business morning, their cases and the unassigned ones, red first', async () => {
    const { seen, setNow } = await setup();
    setNow('2026-11-23T08:00');
    await fileCase('BANCOS, uno', 'd1@uno.co', 'uno', 'a@uno.co');
    setNow('2026-11-23T15:00');
    await fileCase('NOMINA, dos', 'd2@dos.co', 'dos', 'b@dos.co');

    expect((await jobsAt(app, '2026-11-24T07:59')).digests).toEqual([]); // before DIGEST_TIME (08:00)
    const first = await jobsAt(app, '2026-11-24T08:05');
    expect(first.digests.sort()).toEqual(['ana@mesa.test', 'beto@mesa.test']);
    expect((await jobsAt(app, '2026-11-24T09:00')).digests).toEqual([]); // once a day
    const d = seen.of('digest').find((e) => e.to === 'ana@mesa.test')!;
    // Case 1 (filed Monday 08:00) is past its 8 h; case 2 (Monday 15:00) has used 2 h.
    expect(d.cases.map((c) => [c.ticket.number, c.light])).toEqual([
      [1, 'red'],
      [2, 'green'],
    ]);
    expect((await jobsAt(app, '2026-11-29T09:00')).digests).toEqual([]); // Sunday: no digest
  });
});

describe('mesa jobs: auto-close and reopening', () => {
  it('a case sent to pruebas waits on the customer and closes by itself; a reply after that reopens it for support, with no new auto-close', async () => {
    const { setNow } = await setup();
    await fileCase('INVENTARIOS, kardex', 'p1@cliente.co', 'El kardex no cuadra.');
    setNow('2026-11-23T10:00');
    await betoAnswers('p2@mesa.test', '/etapa pruebas\n\nCorregido; pruebe por favor.');
    expect(await app.db('tickets').first()).toMatchObject({ stage: 'pruebas', waiting_on: 'cliente' });
    await jobsAt(app, '2026-11-24T10:00');
    expect((await jobsAt(app, '2026-11-25T10:00')).closed).toEqual([1]);

    setNow('2026-11-26T09:00');
    await app.ingest.ingest(
      customerReply('ana@cliente.co', 1, 'INVENTARIOS, kardex', 'p3@cliente.co', 'Sigue sin cuadrar.'),
      { kind: 'stdin' },
    );
    expect(await app.db('tickets').first()).toMatchObject({ stage: 'reabierto', waiting_on: 'soporte' });
    const later = await jobsAt(app, '2026-12-04T10:00');
    expect([...later.warned, ...later.closed]).toEqual([]);
    expect(later.lights).toEqual([{ number: 1, from: 'green', to: 'red' }]);
  });
});
