import { describe, expect, it } from 'vitest';
import { caseQuestion, queryTerms, searchTerms, stemWord } from '../../../src/tickets/search-text.ts';

describe('search terms', () => {
  it('stems a word with or without its accents alike, and the same again when asked again', () => {
    for (let round = 0; round < 2; round++) {
      expect(['facturación', 'facturacion', 'Facturación'].map(stemWord)).toEqual(['factur', 'factur', 'factur']);
      expect(['electrónicas', 'electronica'].map(stemWord)).toEqual(['electron', 'electron']);
    }
  });

  it('keeps repeats in the indexed text and gives a query its distinct terms, without words that say nothing', () => {
    const text = 'Hola, la factura electrónica sale rechazada. Facturas electrónicas rechazadas por favor';
    expect(searchTerms(text)).toEqual(['factur', 'electron', 'rechaz', 'factur', 'electron', 'rechaz']);
    expect(queryTerms(text)).toEqual(['factur', 'electron', 'rechaz']);
  });

  it('gives a long query its first distinct terms in order, at most the limit asked', () => {
    const words = Array.from({ length: 60 }, (_, i) => `palabra${i} factura${i % 3 ? '' : 's'}`).join(' ');
    const all = [...new Set(searchTerms(words))];
    expect(all.length).toBeGreaterThan(30);
    expect(queryTerms(words)).toEqual(all.slice(0, 24));
    expect(queryTerms(words, 5)).toEqual(all.slice(0, 5));
    expect(queryTerms('impresora impresoras', 24)).toEqual(['impresor']);
  });

  it('asks a new case by its subject and the start of its first message', () => {
    expect(caseQuestion('Nómina', 'x'.repeat(3000))).toBe(`Nómina\n${'x'.repeat(2000)}`);
  });
});
