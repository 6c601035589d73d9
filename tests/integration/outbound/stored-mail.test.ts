import { afterEach, describe, expect, it } from 'vitest';
import { insertOutbox } from '../../../src/db/repos/outbox.ts';
import { waitFor } from '../../support/wait.ts';
import { rawMail } from './fixtures.ts';
import { type MailWorld, mailWorld } from '../../support/worlds.ts';

/**
 * The outbox stores what a mail says (template, data, links, headers), not its rendered HTML; the dispatcher renders
 * it when it sends. Rows written by versions that stored the HTML still go out as they were stored.
 */
let w: MailWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

describe('stored mail', () => {
  it('keeps the template and its data in the row (a small row) and sends it rendered, link included', async () => {
    w = await mailWorld({}, { start: false });
    await w.ingest(
      rawMail({ from: 'carla@empresa.com', subject: 'No puedo facturar', body: 'Sale un error <E42> al facturar.' }),
    );
    const row = await w.app.db('outbox').where({ kind: 'confirmation' }).first();
    const stored = JSON.parse(row.mail_json);
    expect(stored.html).toBeUndefined();
    expect(stored.render).toMatchObject({ template: 'confirmation', locale: 'es' });
    // The link is sealed (what rebuilds it with SECRET_KEY), never the token: tests/outbound/links-at-rest.test.ts.
    expect(stored.render.data.caseUrl).toEqual({ $link: expect.objectContaining({ number: 1, generation: 1 }) });
    expect(row.mail_json.length).toBeLessThan(4000);

    w.app.outbound.dispatcher.start();
    const [sent] = await w.sink.waitFor((m) => m.envelopeTo.includes('carla@empresa.com'), { timeoutMs: 10_000 });
    expect(sent.subject).toBe('[Caso #1] No puedo facturar');
    expect(sent.html).toContain('Consultar mi caso');
    expect(sent.text).toMatch(/http:\/\/127\.0\.0\.1:8080\/caso\/1\.1\.[0-9a-z]+\.[A-Za-z0-9_-]{32}/);
    expect(sent.html).toContain('Sale un error &lt;E42&gt; al facturar.');
    expect(sent.text).toContain('Sale un error <E42> al facturar.');
  });

  it('stores a consultant notice asking for the command list, and sends it with the list; a row holding the list sends that list', async () => {
    w = await mailWorld({}, { start: false });
    await w.ingest(
      rawMail({ from: 'carla@empresa.com', subject: 'No puedo facturar', body: 'Sale un error al facturar.' }),
    );
    const row = await w.app.db('outbox').where({ kind: 'consultant_new_case' }).first();
    const stored = JSON.parse(row.mail_json);
    // The list is words of the template, as its strings are: not copied into every notice.
    expect(stored.render.data.commands).toBe(true);
    const now = Date.now();
    // A notice stored by an earlier version, with the list in its data.
    await insertOutbox(w.app.db, {
      idempotencyKey: 'antiguo:2',
      kind: 'consultant_new_case',
      recipient: 'dora@mesa.test',
      automatic: true,
      messageId: 'antiguo-2@mesa.test',
      state: 'pending',
      now,
      mail: {
        ...stored,
        to: 'dora@mesa.test',
        render: {
          ...stored.render,
          data: { ...stored.render.data, commands: [{ usage: '/antiguo', help: 'un comando de antes' }] },
        },
      },
    });
    w.app.outbound.dispatcher.start();
    const [sent] = await w.sink.waitFor((m) => m.envelopeTo.includes(row.recipient), { timeoutMs: 10_000 });
    for (const line of [
      '/cerrar (/close) — cierra el caso y le avisa al cliente',
      '/esperar cliente|tercero (/wait customer|third-party) — marca a quién espera el caso',
    ]) {
      expect(sent.text).toContain(line);
    }
    expect(sent.html).toContain('</code> — cambia la prioridad<br');
    const [old] = await w.sink.waitFor((m) => m.envelopeTo.includes('dora@mesa.test'), { timeoutMs: 10_000 });
    expect(old.text).toContain('/antiguo — un comando de antes');
    expect(old.text).not.toContain('/cerrar');
  });

  it('sends a row stored with its HTML and text by an earlier version as it was stored', async () => {
    w = await mailWorld();
    const now = Date.now();
    await insertOutbox(w.app.db, {
      idempotencyKey: 'antiguo:1',
      kind: 'confirmation',
      recipient: 'ana@cliente.co',
      automatic: true,
      messageId: 'antiguo-1@mesa.test',
      state: 'pending',
      now,
      mail: {
        from: { name: 'Soporte Mesa', address: 'soporte@mesa.test' },
        replyTo: 'soporte@mesa.test',
        to: 'ana@cliente.co',
        subject: '[Caso #9] Anterior',
        html: '<p>Guardado <b>antes</b></p>',
        text: 'Guardado antes',
        references: [],
        headers: {},
        attachments: [],
      },
    });
    w.app.outbound.dispatcher.kick();
    await waitFor('enviado', async () => w!.sink.to('ana@cliente.co').length === 1);
    const [m] = w.sink.to('ana@cliente.co');
    expect(m.html).toContain('<p>Guardado <b>antes</b></p>');
    expect(m.text.trim()).toBe('Guardado antes');
  });
});
