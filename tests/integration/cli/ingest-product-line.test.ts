import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliEnv, runCli } from '../../support/cli.ts';

// A /producto line is read from a consultant's mail before anyone knows the mail is really the consultant's: a
// forged one is as cheap to send. With a catalogue (PRODUCTS_FILE), the product guess looked for a version with
// `version\s*:?\s*…`, which tries every split of a run of spaces: «/producto version» and 200 KB of spaces held
// `mesa ingest` 27 s on the thread that judges every mail (400 KB: about four times that). Now each run of spaces
// is crossed once.

const CATALOGUE = path.join(import.meta.dirname, '../../fixtures/products/productos.yaml');

const mail = (headers: string, body: string) =>
  `${headers}\r\nDate: Mon, 07 Dec 2026 10:00:00 -0500\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${body}\r\n`;

describe('a /producto line of a forged consultant mail', { timeout: 60_000 }, () => {
  it('with 400 KB of spaces after «version» is judged as any unproven consultant mail, the case left as it was', async () => {
    const { env } = await cliEnv({ PRODUCTS_FILE: CATALOGUE });
    const opened = await runCli(['ingest', '-'], {
      env,
      stdin: mail(
        'From: Ana <ana@cliente.co>\r\nTo: soporte@mesa.test\r\nSubject: BANCOS, no carga el extracto\r\n' +
          'Message-ID: <extracto-1@cliente.co>',
        'Buenos días, el extracto de octubre no carga.',
      ),
    });
    expect(opened.stdout).toMatch(/^stdin: caso nuevo #1/);

    const forged = await runCli(['ingest', '-'], {
      env,
      stdin: mail(
        'From: Ana Consultora <ana@mesa.test>\r\nTo: soporte@mesa.test\r\nSubject: Re: [Caso #1] BANCOS, no carga\r\n' +
          'Message-ID: <forged-1@elsewhere.example>',
        `/producto version${' '.repeat(400 * 1024)}x\r\n\r\nListo.`,
      ),
    });
    expect(forged.code).toBe(0);
    expect(forged.stdout).toMatch(/^stdin: seguimiento del caso #1/);
    const shown = JSON.parse((await runCli(['show', '1', '--json'], { env })).stdout);
    expect([shown.product, shown.productModule, shown.productVersion]).toEqual(['Contabilidad', 'Bancos', null]);
    expect(shown.messages.at(-1)).toMatchObject({ role: 'consultant', internal: true, verified: false });
  });
});
