import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { MESA_BIN } from '../../support/built.ts';
import { cliEnv, runCli } from '../../support/cli.ts';

// `mesa tickets --json` and `mesa show N --json`: the camelCase shape issue 2 fixes, from the real executable.

const first = [
  'From: Juan Pérez <juan@cliente.co>',
  'To: soporte@mesa.test',
  'Subject: Error al exportar',
  'Message-ID: <exp-1@cliente.co>',
  'Date: Mon, 23 Nov 2026 10:00:00 -0500',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b1"',
  '',
  '--b1',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'El reporte sale vacío. Adjunto el log.',
  '',
  '--b1',
  'Content-Type: text/plain; name="export.log"',
  'Content-Disposition: attachment; filename="export.log"',
  '',
  'linea 1',
  'linea 2',
  '--b1--',
  '',
].join('\r\n');

const reply = [
  'From: juan@cliente.co',
  'To: soporte@mesa.test',
  'Subject: RE: [Caso #1] Error al exportar',
  'Message-ID: <exp-2@cliente.co>',
  'In-Reply-To: <exp-1@cliente.co>',
  'Date: Mon, 23 Nov 2026 12:00:00 -0500',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'Ya probé de nuevo y sigue igual.',
  '',
  'El lun, 23 nov 2026 a las 10:30, Soporte <soporte@mesa.test> escribió:',
  '> ¿Puede reintentar?',
  '',
].join('\r\n');

it('prints cases and a case with its conversation as camelCase JSON', async () => {
  const { env } = await cliEnv();
  const dir = path.join(env.DATA_DIR!, 'entrada');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, '1.eml'), first);
  fs.writeFileSync(path.join(dir, '2.eml'), reply);
  expect((await runCli(['ingest', dir], { env })).code).toBe(0);

  const list = await runCli(['tickets', '--json'], { env });
  expect(list.code).toBe(0);
  const cases = JSON.parse(list.stdout);
  expect(cases).toHaveLength(1);
  expect(cases[0]).toMatchObject({
    number: 1,
    subject: 'Error al exportar',
    stage: 'abierto',
    priority: 'media',
    requester: 'juan@cliente.co',
    organization: 'cliente.co',
  });
  expect(Number.isNaN(Date.parse(cases[0].createdAt))).toBe(false);

  const show = await runCli(['show', '1', '--json'], { env });
  expect(show.code).toBe(0);
  const c = JSON.parse(show.stdout);
  expect(c).toMatchObject({
    number: 1,
    subject: 'Error al exportar',
    stage: 'abierto',
    priority: 'media',
    requester: 'juan@cliente.co',
    organization: 'cliente.co',
  });
  expect(typeof c.createdAt).toBe('string');
  const customer = c.messages.filter((m: { role: string }) => m.role === 'customer');
  expect(customer).toHaveLength(2);
  expect(customer[0]).toMatchObject({
    role: 'customer',
    from: 'juan@cliente.co',
    bodyText: 'El reporte sale vacío. Adjunto el log.',
    readAt: null,
    internal: false,
    attachments: [{ filename: 'export.log', contentType: 'text/plain', size: expect.any(Number) }],
  });
  expect(customer[0].attachments[0].size).toBeGreaterThan(10);
  expect(customer[1]).toMatchObject({
    role: 'customer',
    bodyText: 'Ya probé de nuevo y sigue igual.',
    attachments: [],
  });
  for (const m of c.messages)
    expect(Object.keys(m)).toEqual(
      expect.arrayContaining(['role', 'from', 'bodyText', 'createdAt', 'readAt', 'internal', 'attachments']),
    );
  // camelCase throughout: no snake_case key anywhere in the output.
  expect(show.stdout).not.toMatch(/"[a-z]+_[a-z_]+":/);

  const human = await runCli(['show', '#1'], { env });
  expect(human.code).toBe(0);
  expect(human.stdout).toContain('Error al exportar');

  const missing = await runCli(['show', '99', '--json'], { env });
  expect(missing.code).toBe(66);
  expect(missing.stderr).toMatch(/#99 no existe/);
}, 120_000); // several real CLI processes, each with its own start-up

it('answers a mistyped command, a missing argument and --help in Spanish, with EX_USAGE for the mistakes', async () => {
  const { env } = await cliEnv();
  const typo = await runCli(['tickts'], { env });
  expect(typo.code).toBe(64);
  expect(typo.stderr).toMatch(/^mesa: orden desconocida «tickts»\n\(¿Quiso decir tickets\?\)\n/);
  expect(typo.stderr).toContain('Uso: mesa [opciones] [orden]');
  const missing = await runCli(['show'], { env });
  expect(missing.code).toBe(64);
  expect(missing.stderr).toMatch(/^mesa: falta el argumento obligatorio «número»\n/);
  expect(missing.stderr).toContain('Uso: mesa show [opciones] <número>');
  const help = await runCli(['--help'], { env });
  expect(help.code).toBe(0);
  expect(help.stdout).toMatch(/^Uso: mesa \[opciones\] \[orden\]/);
  expect(help.stdout).toContain('-h, --help');
  expect(help.stdout).toContain('muestra esta ayuda');
  expect(help.stdout).toContain('Órdenes:');
  expect(help.stdout).not.toMatch(/Usage|Options:|Commands:|display help|\[options\]/);
});

it('refuses a case number past what it can name exactly, and names it as typed', async () => {
  const { env } = await cliEnv();
  const huge = await runCli(['show', '99999999999999999999999'], { env });
  expect(huge.code).toBe(64);
  expect(huge.stderr).toBe('mesa: "99999999999999999999999" no es un número de caso\n');
  expect((await runCli(['replay', '9007199254740993'], { env })).stderr).toContain('no es un ID de cuarentena');
});

it('says what `mesa ingest` with no input needs when run at a terminal, instead of waiting on it', async () => {
  const { env } = await cliEnv();
  // script(1) gives the command a terminal as its standard input, as a person typing it has.
  const command = [process.execPath, MESA_BIN, 'ingest'].map((a) => `'${a}'`).join(' ');
  const typed = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      cwd: env.DATA_DIR,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env } as NodeJS.ProcessEnv,
    });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout }));
  });
  expect(typed.code).toBe(64);
  expect(typed.stdout).toContain('mesa ingest: falta qué procesar');
  // From a pipe (an MTA) the same command still reads the mail.
  const piped = await runCli(['ingest'], { env, stdin: first });
  expect(piped.code).toBe(0);
});

it("marks a consultant's unproven mail in mesa show, as it marks a customer's", async () => {
  const { env } = await cliEnv({ CONSULTANTS: 'ana@mesa.test' });
  expect((await runCli(['ingest', '-'], { env, stdin: first })).code).toBe(0);
  // From the consultant's address, answering no notice sent to her and with no DMARC pass of our own server.
  const forged = [
    'From: Ana <ana@mesa.test>',
    'To: soporte@mesa.test',
    'Subject: RE: [Caso #1] Error al exportar',
    'Message-ID: <forjado@otro.test>',
    'Date: Mon, 23 Nov 2026 13:00:00 -0500',
    '',
    '/cerrar',
    'Resuelto.',
    '',
  ].join('\r\n');
  expect((await runCli(['ingest', '-'], { env, stdin: forged })).code).toBe(0);
  const shown = await runCli(['show', '1'], { env });
  expect(shown.code).toBe(0);
  expect(shown.stdout).toMatch(/--- Consultor ana@mesa\.test · .* · interno · remitente sin verificar\n/);
  expect(shown.stdout).toMatch(/Etapa: abierto/);
});

it('names a case from a mail without a subject «(sin asunto)», as its mails do', async () => {
  const { env } = await cliEnv();
  const mail = [
    'From: Ana <ana@cliente.co>',
    'To: soporte@mesa.test',
    'Message-ID: <ns-1@cliente.co>',
    '',
    'Ayuda.',
    '',
  ];
  expect((await runCli(['ingest', '-'], { env, stdin: mail.join('\r\n') })).code).toBe(0);
  expect((await runCli(['tickets'], { env })).stdout).toMatch(/^#1 .* ana@cliente\.co +\(sin asunto\)$/m);
  expect((await runCli(['show', '1'], { env })).stdout.split('\n')[0]).toBe('[Caso #1] (sin asunto)');
  // --json keeps what the mail said: nothing.
  expect(JSON.parse((await runCli(['show', '1', '--json'], { env })).stdout).subject).toBe('');
});

it('says its version with --version and -V, as package.json has it', async () => {
  const { env } = await cliEnv();
  const pkg = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '..', '..', '..', 'package.json'), 'utf8'));
  for (const flag of ['--version', '-V']) {
    const r = await runCli([flag], { env });
    expect(r.code, flag).toBe(0);
    expect(r.stdout, flag).toBe(`${pkg.version}\n`);
  }
});

it('refuses a fallback address equal to the support address, which made every new case an urgent one', async () => {
  const { env } = await cliEnv();
  const r = await runCli(['ingest', '-'], {
    env: { ...env, FALLBACK_ADDRESS: env.SUPPORT_ADDRESS!.toUpperCase() },
    stdin:
      'From: Luis <luis@cliente.co>\r\nTo: soporte@mesa.test\r\nSubject: Duda con la factura\r\n' +
      'Message-ID: <misma-1@cliente.co>\r\n\r\nHola, una duda.\r\n',
  });
  expect(r.code, r.stdout).toBe(78);
  expect(r.stderr).toContain('FALLBACK_ADDRESS: es la misma que SUPPORT_ADDRESS');
  expect(r.stdout).toBe('');
});
