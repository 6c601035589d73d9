import { describe, expect, it } from 'vitest';
import {
  CUT_MARK,
  HTML_TO_TEXT_MAX_CHARS,
  htmlToText,
  quoteContainerStart,
  tableText,
} from '../../../src/inbound/html-text.ts';
import { visibleTextOf } from '../../../src/inbound/quotes.ts';

describe('tables in mail HTML as text', () => {
  it('writes each row of a data table as a line, its cells between « | »', () => {
    const html =
      '<p>Les paso el detalle:</p><table><thead><tr><th>Factura</th><th>Monto</th></tr></thead>' +
      '<tbody><tr><td>F-101</td><td>$ 1.200,00</td></tr><tr><td>F-102</td><td></td></tr></tbody></table><p>Gracias</p>';
    expect(htmlToText(html)).toBe('Les paso el detalle:\n\nFactura | Monto\nF-101 | $ 1.200,00\nF-102\n\nGracias');
  });

  it('writes a signature laid out beside its logo as its lines, without the empty cell', () => {
    const html =
      '<p>Saludos,</p><table><tr><td><img src="cid:logo"></td>' +
      '<td>Juan Pérez<br>Gerente de Sistemas<br>Tel. 601 555 0101</td></tr></table>';
    expect(htmlToText(html)).toBe('Saludos,\n\nJuan Pérez\nGerente de Sistemas\nTel. 601 555 0101');
  });

  it('prints the rows it is given in order, one pass, skipping empty rows', () => {
    const cell = (text: string) => ({ text, colspan: 1, rowspan: 1 });
    expect(tableText([[cell('a'), cell(' b ')], [cell('')], [cell('c\nd'), cell('e')]])).toBe('a | b\nc\nd\ne');
  });
});

describe('how much HTML becomes text', () => {
  it('cuts HTML past the limit and says so at the end', () => {
    const lines = Math.ceil(HTML_TO_TEXT_MAX_CHARS / 12) + 1000;
    const text = htmlToText('<p>línea</p>'.repeat(lines));
    expect(text.endsWith(`\n\n${CUT_MARK}`)).toBe(true);
    const kept = text.split('\n').filter((l) => l === 'línea').length;
    expect(kept).toBeGreaterThan(lines - 2000);
    expect(kept).toBeLessThan(lines - 900);
  });

  it('does not count an inline image against the limit', () => {
    const image = `<img src="data:image/png;base64,${'A'.repeat(HTML_TO_TEXT_MAX_CHARS * 2)}">`;
    expect(htmlToText(`<p>Antes</p>${image}<p>Después de la imagen</p>`)).toBe('Antes\n\nDespués de la imagen');
  });

  it('gives the same visible text whether or not the conversion is reused', () => {
    const html = '<div>Hola, ya quedó.</div><div><br></div><div>Ana</div>';
    const text = htmlToText(html);
    expect(visibleTextOf({ text, html, textFromHtml: true })).toBe(visibleTextOf({ text: '', html }));
    expect(visibleTextOf({ text, html, textFromHtml: true })).toBe('Hola, ya quedó.\n\nAna');
  });
});

describe('where the quoted part of mail HTML starts', () => {
  const reply = (quote: string) =>
    `<div dir="ltr">Listo, ya funciona.<br>Gracias</div><br>${quote}<div>El lun. escribió:</div><blockquote>Hola</blockquote>`;

  it.each([
    ['Gmail', '<div class="gmail_quote gmail_quote_container">'],
    ['Outlook', '<div id="divRplyFwdMsg" dir="ltr">'],
    ['Thunderbird', '<div class="moz-cite-prefix">'],
    ['Apple Mail', '<blockquote type="cite">'],
    ['Outlook desktop', '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0in 0in 0in">'],
  ])('finds the %s quote container at its tag', (_client, container) => {
    const html = reply(container);
    expect(quoteContainerStart(html)).toBe(html.indexOf(container));
  });

  it('reads a lone < in the text as text, not as a tag that hides the next one', () => {
    const html = `<p>si a < b entonces</p><div class="gmail_quote">cita</div>`;
    expect(quoteContainerStart(html)).toBe(html.indexOf('<div class="gmail_quote"'));
  });

  it('gives the whole length when there is no quote container, or no tag ends', () => {
    expect(quoteContainerStart('<div class="x">hola</div>')).toBe(25);
    expect(quoteContainerStart('<div '.repeat(1_000_000))).toBe(5_000_000);
    const open = `${'<div class="a'.repeat(100_000)}>`;
    expect(quoteContainerStart(open)).toBe(open.length);
  });
});
