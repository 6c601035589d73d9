import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stripQuotedText, visibleTextOf } from '../../../src/inbound/quotes.ts';
import { htmlToText } from '../../../src/inbound/html-text.ts';
import { libraryPatternsReady, unquotedByLibrary, visibleByLibrary } from '../../../src/inbound/reply-library.ts';
import { generateMails } from '../../bench/corpus.ts';
import { CORPUS_DIR } from '../../support/corpus.ts';

describe('quote stripping', () => {
  it.each([
    [
      'a Gmail attribution wrapped over three lines',
      'Listo.\n\nEl lun, 16 nov 2026 a las 9:14, Soporte Mesa - Ferretería (<\nsoporte@mesa.test>)\nescribió:\n> Hola',
      'Listo.',
    ],
    [
      'an attribution right under the reply, no blank line (Android, French clients)',
      'Gracias\n16.11.2026 9:14 "Soporte" <soporte@mesa.test> escribió:\n\n> Hola',
      'Gracias',
    ],
    [
      "Gmail's date-first form ending in the address",
      'Ok\n\n2026-11-16 9:14 GMT-05:00 Soporte Mesa <soporte@mesa.test>:\n\n> Hola',
      'Ok',
    ],
    [
      'an Outlook header block in another order, with CC',
      'Hecho.\n\nDe: Soporte <soporte@mesa.test>\nPara: Juan\nCC: Ana\nEnviado el: lunes\nAsunto: X\n\nTexto viejo',
      'Hecho.',
    ],
    [
      'a bold "*De:*" block from HTML',
      'Hecho.\n\n*De:* Soporte <soporte@mesa.test>\n*Enviado:* lunes\n*Para:* Juan\n*Asunto:* X',
      'Hecho.',
    ],
    ['"*-------- Original Message --------*"', 'Bar\n\n*-------- Original Message --------*\nFrom: x', 'Bar'],
    [
      'a bottom-posted reply',
      'El lun, 16 nov 2026 a las 9:14, Soporte <soporte@mesa.test> escribió:\n> ¿Funciona?\n\nSí, ya funciona.',
      'Sí, ya funciona.',
    ],
    ['a closing the library takes for a signature', 'Todo bien.\n\nRegards\nJohn', 'Todo bien.\n\nRegards\nJohn'],
    ['a "-- " signature', 'Todo bien.\n\n-- \nJuan\nGerente', 'Todo bien.'],
    ["Gmail's tracking mark and a trailing rule", 'Todo bien.\n\nᐧ\n\n-----------------------', 'Todo bien.'],
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
    expect(
      stripQuotedText('-----Mensaje original-----\nDe: a@b.co\nEnviado: hoy\nPara: c@d.co\nAsunto: x\n\nTexto'),
    ).toContain('Texto');
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

  it("keeps a link's http(s) address after its text, as a mail client's text part does, and nothing else", () => {
    const html =
      '<p>Le comparto el video <a href="https://drive.google.com/file/d/abc/view?usp=sharing">aquí</a>.</p>' +
      '<p><a href="https://mesa.test/">https://mesa.test/</a> <a href="javascript:alert(1)">entrar</a> ' +
      '<a href="mailto:ana@cliente.co">ana@cliente.co</a> <a href="#arriba">arriba</a> ' +
      '<a href="https://www.linkedin.com/company/cliente"><img src="cid:logo" alt=""></a></p>';
    expect(htmlToText(html)).toBe(
      'Le comparto el video aquí <https://drive.google.com/file/d/abc/view?usp=sharing>.\n\n' +
        'https://mesa.test/ entrar ana@cliente.co arriba',
    );
  });

  it('cuts HTML-only mail at the quote container before converting it', () => {
    const html = '<div>Respuesta</div><div class="gmail_quote">El lun escribió:<blockquote>viejo</blockquote></div>';
    expect(visibleTextOf({ text: '', html })).toBe('Respuesta');
  });
});

describe('the library skipped where none of its patterns can fire (unquotedByLibrary)', () => {
  /** Texts to compare on: the Spanish fixtures, the bench's generated mail, hand-made edge cases, and the public
   * corpus's replies when it is there; each whole and cut after every line (what is above a quote is a prefix). */
  function texts(): string[] {
    const out: string[] = [];
    const add = (t: string) => {
      const lines = t.replace(/\r\n?/g, '\n').split('\n');
      for (let k = 1; k <= Math.min(lines.length, 60); k++) out.push(lines.slice(0, k).join('\n'));
      out.push(lines.join('\n'));
    };
    const body = (raw: string) => raw.slice(raw.search(/\r?\n\r?\n/) + 2);
    const fixtures = path.resolve(import.meta.dirname, '../../fixtures');
    for (const dir of ['es', 'seed']) {
      for (const f of fs.readdirSync(path.join(fixtures, dir)).filter((n) => n.endsWith('.eml')))
        add(body(fs.readFileSync(path.join(fixtures, dir, f), 'latin1')));
    }
    for (const m of generateMails(40)) add(body(m.raw.toString('utf8')));
    for (const t of [
      'Hola\n\nGracias,\nAna  \t',
      '\nHola\n',
      '\n\n\n',
      '   \n\t\n',
      'Hola~~\n~',
      'Hola\u00a0\u00a0\nChao\u2003',
      'Best regards,\nJuan',
      'Regards',
      'Cheers!\nJ',
      'Enviado desde mi iPhone',
      'Sent from my Android',
      '--\nJuan',
      '-- \nJuan',
      '__\nJuan',
      '____',
      '+++',
      '==',
      'Texto\n> citado\nmás',
      ' > no es cita',
      'On Mon, 2 Nov 2026 at 10:00, Ana <a@b.co>\nwrote:\n> x',
      'El lun, 2 nov 2026, Ana <a@b.co> escribió:',
      'Le 2 nov. 2026 à 10:00, Ana a écrit :',
      'Am 2. Nov. 2026 schrieb Ana <a@b.co>:',
      'De: Ana <a@b.co>\nEnviado: hoy',
      'From: Ana <a@b.co>',
      '-----Original Message-----',
      '2026-11-02 10:00 GMT-05:00 Ana <a@b.co>:',
      'Ana <a@b.co> schrieb:',
      'x'.repeat(500),
      'Cordialement',
      'Bonne journée!',
      'Verzonden vanaf mijn iPhone',
      'Get Outlook for Android',
      'Van: Ana <a@b.co>',
      'Da: Ana <a@b.co>',
    ])
      add(t);
    const corpus = path.join(CORPUS_DIR, 'reply');
    if (fs.existsSync(corpus)) {
      const walk = (d: string) => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
          const p = path.join(d, e.name);
          if (e.isDirectory()) walk(p);
          else if (!/LICENSE|\.json$|\.html$|gitignore/.test(e.name)) add(fs.readFileSync(p, 'utf8'));
        }
      };
      walk(corpus);
    }
    return out;
  }

  it('gives exactly what the library gives, and takes most plain text without it', async () => {
    expect(await libraryPatternsReady()).toBe(true);
    let skipped = 0;
    const all = texts();
    for (const t of all) {
      const fast = unquotedByLibrary(t);
      if (fast === undefined) continue;
      skipped++;
      expect(fast, JSON.stringify(t.slice(0, 200))).toBe(visibleByLibrary(t));
    }
    // Most of it: a reply's lines above its quote, a new case's text.
    expect(skipped).toBeGreaterThan(all.length / 4);
    // And never where the library would cut something.
    for (const t of [
      'Texto\n> citado',
      'Todo bien.\n\n-- \nJuan',
      'Listo\n\nEnviado desde mi iPhone',
      'Ok\n\nOn Mon, 2 Nov 2026 at 10:00, Ana <a@b.co> wrote:\n> x',
    ]) {
      expect(unquotedByLibrary(t)).toBeUndefined();
    }
  });
});

describe('quote stripping of lines with long runs of spaces', () => {
  it('keeps the words after a run of spaces and drops only the trailing ones', () => {
    const run = ' \t'.repeat(100_000);
    expect(stripQuotedText(`Hola,\n${run}la factura 12 sale en cero.${run}\nGracias`)).toBe(
      `Hola,\n${run}la factura 12 sale en cero.\nGracias`,
    );
  });
});
