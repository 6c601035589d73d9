import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { cliEnv, peakOf, runCli } from '../../support/cli.ts';

// HTML-only mail through the built `mesa ingest -`, turned into the case's text on the parse thread. A table pasted
// from a spreadsheet is ordinary mail: html-to-text's own table layout took seconds per thousand rows (12.8 s for
// 2 MB of rows here, and 5 MB outlasted the 30 s parse limit: the mail was quarantined instead of opening its case).
// Hostile HTML of tiny elements costs its converter ~60 times its size in memory: 11 MB of nested <div> took the
// process to 1036 MB; now at most 1 MB of HTML becomes text (298 MB here).

const MB = 1024 * 1024;

function htmlMail(subject: string, html: string): Readable {
  return Readable.from([
    Buffer.from(
      `From: Pedro <pedro@cliente.co>\r\nTo: soporte@mesa.test\r\nSubject: ${subject}\r\n` +
        `Message-ID: <${subject.replace(/\W/g, '')}@cliente.co>\r\nDate: Mon, 07 Dec 2026 10:00:00 -0500\r\n` +
        'MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n',
    ),
    Buffer.from(html),
  ]);
}

describe('mesa ingest with large HTML', { timeout: 120_000 }, () => {
  it('opens the case of a 5 MB table pasted from a spreadsheet, its rows as lines until the cut', async () => {
    const { env } = await cliEnv();
    const row = (i: number) => `<tr><td>F-${i}</td><td>Ferretería Andina</td><td>$ ${i},00</td></tr>`;
    const rows = Array.from({ length: Math.ceil((5 * MB) / row(99999).length) }, (_, i) => row(i)).join('');
    const html = `<p>Buenos días, les pego el listado de facturas:</p><table>${rows}</table>`;
    const run = await peakOf(['ingest', '-'], env, htmlMail('Listado de facturas', html));
    expect(run.stdout).toMatch(/^stdin: caso nuevo #1/);
    const shown = JSON.parse((await runCli(['show', '1', '--json'], { env })).stdout);
    const text: string = shown.messages[0].bodyText;
    expect(text).toMatch(
      /^Buenos días, les pego el listado de facturas:\n\nF-0 \| Ferretería Andina \| \$ 0,00\nF-1 \|/,
    );
    // Every row up to the cut at 1 MB of HTML, one line each, and the mark that the text was cut.
    const lines = text.split('\n').filter((l) => l.startsWith('F-'));
    expect(lines.length).toBeGreaterThan(MB / row(99999).length - 100);
    expect(lines.every((l, i) => l === `F-${i} | Ferretería Andina | $ ${i},00` || i === lines.length - 1)).toBe(true);
    expect(text.endsWith('\n\n[…]')).toBe(true);
  });

  it('turns hostile nested HTML into text within bounded memory, keeping the whole HTML', async () => {
    const { env } = await cliEnv();
    const small = await peakOf(['ingest', '-'], env, htmlMail('Hola', '<p>Hola</p>'));
    expect(small.code).toBe(0);
    const depth = 1_000_000;
    const bomb = `<p>Texto visible</p>${'<div>'.repeat(depth)}hola${'</div>'.repeat(depth)}`;
    const big = await peakOf(['ingest', '-'], env, htmlMail('Anidado', bomb));
    expect(big.stdout).toMatch(/^stdin: caso nuevo #2/);
    console.log(`[ingest html] peak RSS ${(small.peak / MB).toFixed(0)} MB small, ${(big.peak / MB).toFixed(0)} MB`);
    expect(big.peak - small.peak).toBeLessThan(250 * MB);
    const shown = JSON.parse((await runCli(['show', '2', '--json'], { env })).stdout);
    expect(shown.messages[0].bodyText).toMatch(/^Texto visible\n[\s\S]*\[…\]$/);
  });
});
