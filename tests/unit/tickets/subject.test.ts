import { describe, expect, it } from 'vitest';
import { caseNumberFromSubject, cleanSubject, taggedSubject } from '../../../src/tickets/subject.ts';

describe('subjects', () => {
  it.each([
    ['RE: [Caso #12] Factura', 12],
    ['RV: [Caso #12] Factura', 12],
    ['Fwd: [Caso #12] Factura', 12],
    ['RE: RE: [Caso #12] Factura', 12],
    ['AW: [Caso #12] Factura', 12],
    ['Fw: [Caso #12] Factura', 12],
    ['re:[caso#12] Factura', 12],
    ['RE :  [ CASO # 12 ] Factura', 12],
    ['Respuesta automática: [Caso #12] Factura', 12],
    ['Factura [Caso #12]', 12],
    ['Factura sin caso', undefined],
    ['[Caso #0] nada', undefined],
  ])('finds the case number in "%s"', (subject, n) => {
    expect(caseNumberFromSubject(subject)).toBe(n);
  });

  it.each([
    ['RE: RE: [Caso #12] Factura mal cargada', 'Factura mal cargada'],
    ['RV: Fwd: AW: Fw: factura', 'factura'],
    ['Re[2]: RES: ENC: TR: Pedido', 'Pedido'],
    ['RE：  Pedido   urgente', 'Pedido urgente'],
    ['Recibo de caja', 'Recibo de caja'],
    ['Reunión: agenda', 'Reunión: agenda'],
  ])('cleans "%s"', (subject, clean) => {
    expect(cleanSubject(subject)).toBe(clean);
  });

  it('tags a subject once, whatever it carried', () => {
    expect(taggedSubject(12, 'RE: [Caso #12] Factura')).toBe('[Caso #12] Factura');
    expect(taggedSubject(3, '   ')).toBe('[Caso #3] (sin asunto)');
  });
});

describe('subjects with long runs of spaces', () => {
  it('finds the tag, and strips the prefixes, after a run of spaces a forged subject can carry', () => {
    const spaces = ' '.repeat(64_000);
    expect(caseNumberFromSubject(`[caso${spaces}`)).toBeUndefined();
    expect(caseNumberFromSubject(`[caso${spaces}#${spaces}42${spaces}]`)).toBe(42);
    expect(cleanSubject(`re${spaces}:${spaces}Factura`)).toBe('Factura');
    expect(cleanSubject(`re${spaces}Factura`)).toBe('re Factura');
  });
});
