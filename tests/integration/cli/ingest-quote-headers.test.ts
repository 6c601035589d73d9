import { describe, expect, it } from 'vitest';
import { cliEnv, runCli } from '../../support/cli.ts';

// Quote stripping runs email-reply-parser (src/inbound/reply-library.ts), whose Scandinavian quote header
// «… skrev …:» is tried from every line to the end of the text, and again for each «skrev» it finds there: cubic in
// the lines. A 354 KB mail of 1200 lines «abc. x skrev a a a …» held the parse thread 30 s, its limit, and went to
// quarantine (parse_timeout); a hundred of them would have kept every other mail waiting for fifty minutes. The
// library now reads only the head of a text (100 lines, 16 000 characters).

const mail = (body: string) =>
  'From: Ataque <ataque@cliente.co>\r\nTo: soporte@mesa.test\r\nSubject: Consulta\r\n' +
  'Message-ID: <skrev-1@cliente.co>\r\nDate: Mon, 07 Dec 2026 10:00:00 -0500\r\n' +
  `Content-Type: text/plain; charset=utf-8\r\n\r\n${body}\r\n`;

describe('a text whose every line looks like the start of a quote header', { timeout: 90_000 }, () => {
  it('opens its case with the whole text, well inside the parse limit', async () => {
    const { env } = await cliEnv();
    const lines = Array.from({ length: 1200 }, (_, i) => `abc. x skrev ${'a '.repeat(140)}${i}`);
    const started = Date.now();
    const r = await runCli(['ingest', '-'], { env, stdin: mail(lines.join('\r\n')) });
    const ms = Date.now() - started;
    expect(r.code, r.stdout + r.stderr.slice(-1000)).toBe(0);
    expect(r.stdout).toMatch(/^stdin: caso nuevo #1/);
    console.log(`1200 lines «abc. x skrev …»: mesa ingest ${ms} ms`);
    const shown = JSON.parse((await runCli(['show', '1', '--json'], { env })).stdout);
    const text: string = shown.messages[0].bodyText;
    expect(text.startsWith(lines[0].trimEnd())).toBe(true);
    expect(text.trimEnd().endsWith(lines[1199].trimEnd())).toBe(true);
  });
});
