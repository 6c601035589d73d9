import { describe, expect, it } from 'vitest';
import { subjectNeedsDetail } from '../../../src/tickets/subject-quality.ts';

describe('subjectNeedsDetail', () => {
  it.each([
    ['', true],
    ['   ', true],
    ['URGENTE', true],
    ['Ayuda', true],
    ['help', true],
    ['Problema!!!', true],
    ['RE: urgente ayuda por favor', true],
    ['[Caso #12] Problema', true],
    ['Urgente - problema', true],
    ['BANCOS, Factura mal cargada', false],
    ['Nómina: no calcula horas extra', false],
    ['urgente: no puedo entrar a CONTABILIDAD', false],
    ['Error 500 en facturación', false],
  ])('%j → %s', (subject, expected) => {
    expect(subjectNeedsDetail(subject)).toBe(expected);
  });
});
