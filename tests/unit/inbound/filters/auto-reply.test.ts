import { describe, expect, it } from 'vitest';
import { autoReply, autoReplyReason } from '../../../../src/inbound/filters/auto-reply.ts';
import { ctxOf, mailOf } from './support.ts';

describe('auto-reply filter', () => {
  it.each([
    ['RFC 3834 Auto-Submitted: auto-replied', { 'Auto-Submitted': 'auto-replied' }],
    ['RFC 3834 Auto-Submitted: auto-generated', { 'Auto-Submitted': 'auto-generated' }],
    ['RFC 3834 Auto-Submitted: auto-notified (any value other than no)', { 'Auto-Submitted': 'auto-notified' }],
    ['X-Autoreply', { 'X-Autoreply': 'yes' }],
    ['X-Autorespond', { 'X-Autorespond': 'Fuera de oficina' }],
    ['X-Auto-Response-Suppress (Exchange)', { 'X-Auto-Response-Suppress': 'All' }],
    ['Precedence: bulk', { Precedence: 'bulk' }],
    ['Precedence: junk', { Precedence: 'junk' }],
    ['Outlook es "Respuesta automática: …"', { Subject: 'Respuesta automática: [Caso #7] Factura' }],
    ['"Fuera de la oficina"', { Subject: 'Fuera de la oficina' }],
    ['"Fuera de la oficina hasta el lunes"', { Subject: 'Fuera de la oficina hasta el lunes 3' }],
    ['Outlook en "Automatic reply: …"', { Subject: 'Automatic reply: Factura' }],
    ['"Out of Office: …"', { Subject: 'Out of Office: Factura' }],
    ['"RE: Respuesta automática" in any case', { Subject: 'RE:  RESPUESTA AUTOMÁTICA: Factura' }],
  ])('recognises %s', async (_name, headers) => {
    const m = await mailOf(headers);
    expect(autoReplyReason(m)).toBeTruthy();
    const v = autoReply.run(m, ctxOf(), {});
    expect(v.kind).toBe('continue');
    expect(v.facts?.automated?.kind).toBe('auto_reply');
  });

  it.each([
    ['Auto-Submitted: no', { 'Auto-Submitted': 'no', Subject: 'Factura' }],
    ['"Vacaciones mal calculadas en NÓMINA"', { Subject: 'Vacaciones mal calculadas en NÓMINA' }],
    ['"Ausencias no aparecen en el reporte"', { Subject: 'Ausencias no aparecen en el reporte' }],
    [
      '"Respuesta automática del portal no envía correos"',
      { Subject: 'Respuesta automática del portal no envía correos' },
    ],
    ['"El módulo de oficina fuera de servicio"', { Subject: 'El módulo de oficina fuera de servicio' }],
    ['Precedence: first-class', { Precedence: 'first-class' }],
  ])('does not take %s for an auto-reply', async (_name, headers) => {
    const m = await mailOf(headers);
    expect(autoReplyReason(m)).toBeUndefined();
    expect(autoReply.run(m, ctxOf(), {})).toEqual({ kind: 'continue', facts: undefined });
  });

  it('leaves an earlier verdict (a bounce) alone', async () => {
    const m = await mailOf({ 'Auto-Submitted': 'auto-replied' });
    const v = autoReply.run(m, ctxOf(), { automated: { kind: 'bounce', why: 'DSN', hard: true } });
    expect(v.facts).toBeUndefined();
  });
});
