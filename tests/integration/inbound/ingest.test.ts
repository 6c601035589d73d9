import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { caseDetail, listCases } from '../../../src/services/case-view.ts';
import { testApp } from '../../support/app.ts';
import { mail } from '../../support/mail.ts';
import { readOriginal } from '../../../src/storage/originals.ts';

let app: App;
afterEach(async () => app?.close());

describe('ingest service', () => {
  it('opens a case from a new mail, continues it from a tagged reply, and ignores the same mail twice', async () => {
    app = await testApp();
    const first = mail(
      {
        From: 'Juan <juan@cliente.co>',
        To: 'soporte@mesa.test',
        Subject: 'Factura mal cargada',
        'Message-ID': '<a1@cliente.co>',
      },
      'No carga la factura 123.',
    );
    const r1 = await app.ingest.ingest(first, { kind: 'stdin' });
    expect(r1).toMatchObject({ outcome: 'accepted', effect: 'new_case', ticketNumber: 1 });

    const again = await app.ingest.ingest(first, {
      kind: 'imap',
      account: 'support',
      folder: 'INBOX',
      uidvalidity: 1,
      uid: 7,
    });
    expect(again).toMatchObject({ outcome: 'ignored', reason: 'duplicate' });

    const reply = mail(
      {
        From: 'juan@cliente.co',
        To: 'soporte@mesa.test',
        Subject: 'RE: [Caso #1] Factura mal cargada',
        'Message-ID': '<a2@cliente.co>',
      },
      'Sigue igual.\n\nEl lun, 2 nov 2026 a las 10:00, Soporte <soporte@mesa.test> escribió:\n> Pruebe de nuevo',
    );
    const r2 = await app.ingest.ingest(reply, { kind: 'stdin' });
    expect(r2).toMatchObject({ outcome: 'accepted', effect: 'follow_up', ticketNumber: 1 });

    const detail = await caseDetail(app.db, 1);
    expect(detail?.messages.map((m) => m.bodyText)).toEqual(['No carga la factura 123.', 'Sigue igual.']);
    expect((await listCases(app.db)).length).toBe(1);
  });

  it('binds a reply that references two cases to the one its In-Reply-To names, whatever the order of the ids', async () => {
    app = await testApp();
    const open = (id: string, subject: string) =>
      app.ingest.ingest(
        mail(
          { From: 'Juan <juan@cliente.co>', To: 'soporte@mesa.test', Subject: subject, 'Message-ID': `<${id}>` },
          subject,
        ),
        { kind: 'stdin' },
      );
    expect(await open('zz-primero@cliente.co', 'Factura mal cargada')).toMatchObject({
      effect: 'new_case',
      ticketNumber: 1,
    });
    expect(await open('aa-segundo@cliente.co', 'No genera el reporte')).toMatchObject({
      effect: 'new_case',
      ticketNumber: 2,
    });
    // Its References carry the first case's id too (the customer wrote both from one thread); the id it answers is
    // the second case's, and it sorts first as text: the case must not depend on that.
    const reply = mail(
      {
        From: 'juan@cliente.co',
        To: 'soporte@mesa.test',
        Subject: 'RE: reporte',
        'Message-ID': '<r1@cliente.co>',
        'In-Reply-To': '<aa-segundo@cliente.co>',
        References: '<zz-primero@cliente.co> <aa-segundo@cliente.co>',
      },
      'Sigue sin generar.',
    );
    expect(await app.ingest.ingest(reply, { kind: 'stdin' })).toMatchObject({ effect: 'follow_up', ticketNumber: 2 });
    const reply2 = mail(
      {
        From: 'juan@cliente.co',
        To: 'soporte@mesa.test',
        Subject: 'RE: factura',
        'Message-ID': '<r2@cliente.co>',
        'In-Reply-To': '<zz-primero@cliente.co>',
        References: '<aa-segundo@cliente.co> <zz-primero@cliente.co>',
      },
      'La factura sigue igual.',
    );
    expect(await app.ingest.ingest(reply2, { kind: 'stdin' })).toMatchObject({ effect: 'follow_up', ticketNumber: 1 });
  });

  it('gives consecutive numbers with no gaps when many mails arrive at once', async () => {
    app = await testApp();
    const results = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        app.ingest.ingest(
          mail(
            { From: `p${i}@org${i}.co`, To: 'soporte@mesa.test', Subject: `Problema ${i}`, 'Message-ID': `<n${i}@x>` },
            `texto ${i}`,
          ),
          { kind: 'stdin' },
        ),
      ),
    );
    expect(results.every((r) => r.outcome === 'accepted')).toBe(true);
    const numbers = (await listCases(app.db)).map((c) => c.number).sort((a, b) => a - b);
    expect(numbers).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
  });

  it('quarantines mail over MAX_MESSAGE_BYTES with its sender recorded, and replays it when the limit allows', async () => {
    app = await testApp({ MAX_MESSAGE_BYTES: '2000' });
    const big = mail(
      { From: 'grande@cliente.co', To: 'soporte@mesa.test', Subject: 'Adjunto pesado', 'Message-ID': '<big@x>' },
      'x'.repeat(5000),
    );
    const r = await app.ingest.ingest(big, { kind: 'stdin' });
    expect(r).toMatchObject({ outcome: 'rejected', reason: 'too_large' });
    const q = await app.db('quarantine').first();
    expect(q).toMatchObject({
      from_address: 'grande@cliente.co',
      subject: 'Adjunto pesado',
      reason: 'too_large',
      state: 'held',
    });
    expect((await readOriginal(app.db, app.blobs, q.raw_sha256)).equals(big)).toBe(true);
  });
});
