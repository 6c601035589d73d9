import { describe, expect, it } from 'vitest';
import { htmlToText, stripQuotedText, visibleTextOf } from '../../src/inbound/quotes.ts';

describe('quote stripping', () => {
  it.each([
    ['a Gmail attribution wrapped over three lines', 'Listo.\n\nEl lun, 16 nov 2026 a las 9:14, Soporte Mesa - Ferretería (<\nsoporte@mesa.test>)\nescribió:\n> Hola', 'Listo.'],
    ['an attribution right under the reply, no blank line (Android, French clients)', 'Gracias\n16.11.2026 9:14 "Soporte" <soporte@mesa.test> escribió:\n\n> Hola', 'Gracias'],
    ['Gmail\'s date-first form ending in the address', 'Ok\n\n2026-11-16 9:14 GMT-05:00 Soporte Mesa <soporte@mesa.test>:\n\n> Hola', 'Ok'],
    ['an Outlook header block in another order, with CC', 'Hecho.\n\nDe: Soporte <soporte@mesa.test>\nPara: Juan\nCC: Ana\nEnviado el: lunes\nAsunto: X\n\nTexto viejo', 'Hecho.'],
    ['a bold "*De:*" block from HTML', 'Hecho.\n\n*De:* Soporte <soporte@mesa.test>\n*Enviado:* lunes\n*Para:* Juan\n*Asunto:* X', 'Hecho.'],
    ['"*-------- Original Message --------*"', 'Bar\n\n*-------- Original Message --------*\nFrom: x', 'Bar'],
    ['a bottom-posted reply', 'El lun, 16 nov 2026 a las 9:14, Soporte <soporte@mesa.test> escribió:\n> ¿Funciona?\n\nSí, ya funciona.', 'Sí, ya funciona.'],
    ['a closing the library takes for a signature', 'Todo bien.\n\nRegards\nJohn', 'Todo bien.\n\nRegards\nJohn'],
    ['a "-- " signature', 'Todo bien.\n\n-- \nJuan\nGerente', 'Todo bien.'],
    ['Gmail\'s tracking mark and a trailing rule', 'Todo bien.\n\nᐧ\n\n-----------------------', 'Todo bien.'],
  ])('cuts %s', (_n, text, visible) => {
    expect(stripQuotedText(text)).toBe(visible);
  });

  it.each([
    ['"escribió:" inside a sentence', 'El usuario escribió: "no funciona" y luego cerró la ventana.\nGracias'],
    ['a line that starts with "De:" alone', 'De: mi parte, todo listo.\nGracias'],
    ['a list with colons', 'Pasos:\nPara: entrar al sistema\nAsunto: ninguno'],
  ])('keeps %s', (_n, text) => {
    expect(stripQuotedText(text)).toBe(text);
  });

  it('keeps a mail that is only a forward rather than returning nothing', () => {
    expect(stripQuotedText('-----Mensaje original-----\nDe: a@b.co\nEnviado: hoy\nPara: c@d.co\nAsunto: x\n\nTexto')).toContain('Texto');
  });

  it('does not hang on hostile long lines (the library backtracks cubically on them)', () => {
    const hostile = 'Hola\n' + 'x on at '.repeat(5000) + '\nEl ' + 'a b '.repeat(20_000) + '\n';
    const started = performance.now();
    const out = stripQuotedText(hostile);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(out.startsWith('Hola\nx on at')).toBe(true);
  });

  it('turns pathologically nested HTML into text without overflowing the stack', () => {
    const html = '<div>'.repeat(100_000) + 'hola' + '</div>'.repeat(100_000);
    expect(() => htmlToText(html)).not.toThrow();
  });

  it('cuts HTML-only mail at the quote container before converting it', () => {
    const html = '<div>Respuesta</div><div class="gmail_quote">El lun escribió:<blockquote>viejo</blockquote></div>';
    expect(visibleTextOf({ text: '', html })).toBe('Respuesta');
  });
});
