import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { cliEnv, runCli } from '../../support/cli.ts';

/**
 * Issue 23: mail-derived text reaches the administrator's terminal through `mesa show`, `mesa tickets`, `mesa
 * quarantine`, `mesa outbox` and `mesa ingest`. A real mail carries ESC[2J (clear the screen), OSC 52 (write the
 * clipboard), an 8-bit CSI, a bare CR (overwrite the line: a fake line) and bidi overrides in its subject, sender
 * name, body and file name; the real executable prints them all as visible escapes.
 */
const ESC = '\x1b';
const hostile = `Factura ${ESC}[2J${ESC}]52;c;ZWNobyBwd25lZA==\x07 lista \u009b2J \u202egpj.exe`;
const word = (s: string) => `=?utf-8?B?${Buffer.from(s).toString('base64')}?=`;

const mail = [
  `From: ${word(`Carla ${ESC}[31mROJO\u202e`)} <carla@cliente.co>`,
  'To: soporte@mesa.test',
  `Subject: ${word(hostile)}`,
  'Message-ID: <esc-1@cliente.co>',
  'Date: Mon, 23 Nov 2026 10:00:00 -0500',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b1"',
  '',
  '--b1',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'Primera l=C3=ADnea=0D[Caso #1] cerrado por ana@mesa.test',
  '=1B[2J=1B]52;c;cm0gLXJmIH4=3D=07 segunda l=C3=ADnea =E2=80=AE fin',
  '',
  '--b1',
  `Content-Type: application/pdf; name="${word('factura\u202efdp.exe')}"`,
  `Content-Disposition: attachment; filename="${word('factura\u202efdp.exe')}"`,
  'Content-Transfer-Encoding: base64',
  '',
  Buffer.from('%PDF-1.4 prueba').toString('base64'),
  '--b1--',
  '',
].join('\r\n');

/** What must never reach a terminal raw. */
const RAW_CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

it('prints every mail-derived field of show, tickets, quarantine, outbox and ingest with its controls escaped', async () => {
  const { env } = await cliEnv();
  const file = path.join(env.DATA_DIR!, 'hostil.eml');
  fs.writeFileSync(file, mail);
  const ingest = await runCli(['ingest', file], { env });
  expect(ingest.code).toBe(0);

  const show = await runCli(['show', '1'], { env });
  expect(show.code).toBe(0);
  expect(show.stdout).not.toMatch(RAW_CONTROLS);
  expect(show.stdout).toContain('\\x1b[2J\\x1b]52;c;ZWNobyBwd25lZA==\\x07 lista \\x9b2J \\u202egpj.exe');
  expect(show.stdout).toContain('Carla \\x1b[31mROJO\\u202e');
  // No CR reaches the terminal: the text after the bare CR is a line of the body, indented as the body is, and
  // cannot overwrite the line before it to pass for a line of Mesa's own.
  expect(show.stdout).toContain('\n  Primera línea\n  [Caso #1] cerrado por ana@mesa.test\n');
  expect(show.stdout).not.toMatch(/^\[Caso #1\] cerrado/m);
  expect(show.stdout).toContain('\n  \\x1b[2J\\x1b]52;c;cm0gLXJmIH4=\\x07 segunda línea \\u202e fin');
  // A file name loses its invisible characters when the mail is read (src/mail/attachment-names.ts).
  expect(show.stdout).toMatch(/📎 facturafdp\.exe/);

  const tickets = await runCli(['tickets'], { env });
  expect(tickets.stdout).not.toMatch(RAW_CONTROLS);
  expect(tickets.stdout).toContain('Factura \\x1b[2J');

  // --json stays JSON (the same strings once parsed), with nothing raw for the terminal either.
  const json = await runCli(['show', '1', '--json'], { env });
  expect(json.stdout).not.toMatch(RAW_CONTROLS);
  expect(JSON.parse(json.stdout).subject).toBe(hostile);

  const outbox = await runCli(['outbox'], { env });
  expect(outbox.code).toBe(0);
  expect(outbox.stdout).toContain('Factura \\x1b[2J');
  expect(outbox.stdout).not.toMatch(RAW_CONTROLS);

  // Too large for MAX_MESSAGE_BYTES: quarantined with the hostile subject, which `mesa quarantine` lists.
  const big = path.join(env.DATA_DIR!, 'grande.eml');
  fs.writeFileSync(big, mail.replace('esc-1@', 'esc-2@').replace('--b1--', `${'x'.repeat(4000)}\r\n--b1--`));
  const refused = await runCli(['ingest', big], { env: { ...env, MAX_MESSAGE_BYTES: '3000' } });
  expect(refused.code).toBe(65);
  expect(refused.stdout).not.toMatch(RAW_CONTROLS);
  const quarantine = await runCli(['quarantine'], { env });
  expect(quarantine.stdout).toContain('«Factura \\x1b[2J');
  expect(quarantine.stdout).not.toMatch(RAW_CONTROLS);
});

it('shows CR and LF of a one-line field as \\r and \\n, and keeps the line breaks of a body', async () => {
  const { oneLine, manyLines } = await import('../../../src/cli/format.ts');
  expect(oneLine('Asunto\r[Caso #9] falso\nmás')).toBe('Asunto\\r[Caso #9] falso\\nmás');
  expect(manyLines('uno\r\ndos\rtres\n\x1b[2J')).toBe('uno\ndos\\rtres\n\\x1b[2J');
});
