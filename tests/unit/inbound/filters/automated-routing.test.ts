import { describe, expect, it } from 'vitest';
import { automatedRouting } from '../../../../src/inbound/filters/automated-routing.ts';
import { FILTERS } from '../../../../src/inbound/filters/index.ts';
import { decide, runFilters } from '../../../../src/inbound/pipeline.ts';
import { ctxOf, mailOf, ticket } from './support.ts';

const ooo = {
  'Auto-Submitted': 'auto-replied',
  Subject: 'Respuesta automática: RE: [Caso #7] Factura',
  From: 'juan@cliente.co',
};

describe('automated-routing filter', () => {
  it('an auto-reply about a case becomes a system note on it, never a reopening', async () => {
    const closed = ticket({ stage: 'cerrado', closedAt: ctxOf().now - 86_400_000 });
    const r = runFilters(await mailOf(ooo), ctxOf({ taggedTicket: closed }), FILTERS);
    expect(r.kind).toBe('effect');
    expect(decide(r.facts)).toEqual({ kind: 'system_note', ticketId: closed.id, number: 7 });
  });

  it('a bounce about a case (found through the embedded headers) becomes a system note', async () => {
    const body =
      '--B\r\nContent-Type: text/plain\r\n\r\nNo se pudo entregar.\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n--B--\r\n';
    const m = await mailOf(
      {
        From: 'MAILER-DAEMON@mx.cliente.co',
        Subject: 'Undeliverable',
        'Content-Type': 'multipart/report; report-type=delivery-status; boundary="B"',
      },
      body,
    );
    const r = runFilters(m, ctxOf({ embeddedTickets: [ticket()] }), FILTERS);
    expect(r.kind === 'effect' && decide(r.facts)).toEqual({ kind: 'system_note', ticketId: 10, number: 7 });
  });

  it.each([
    ['an auto-reply', { 'Auto-Submitted': 'auto-replied', Subject: 'Fuera de la oficina' }, 'auto_reply'],
    ['a bounce', { From: 'MAILER-DAEMON@mx.cliente.co', Subject: 'failure notice' }, 'bounce'],
    ['a list mail', { 'List-Id': '<boletin.cliente.co>', Subject: 'Boletín' }, 'mailing_list'],
  ])('%s without a case is ignored with its reason', async (_n, headers, reason) => {
    const r = runFilters(await mailOf(headers), ctxOf(), FILTERS);
    expect(r).toMatchObject({ kind: 'stop', outcome: 'ignored', reason });
  });

  it("passes a person's mail untouched", async () => {
    expect(automatedRouting.run(await mailOf({}), ctxOf(), {})).toEqual({ kind: 'continue', facts: undefined });
  });
});
