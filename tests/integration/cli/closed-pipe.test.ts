import { spawn } from 'node:child_process';
import { expect, it } from 'vitest';
import { cliEnv, runCli } from '../../support/cli.ts';
import { MESA_BIN } from '../../support/built.ts';

/**
 * `mesa show 1 | head`: the reader takes what it wants and closes the pipe. The real executable stops quietly with
 * 141 (128 + SIGPIPE, as `cat` does) instead of an unhandled EPIPE with its stack on the terminal.
 */
it('stops quietly with 141 when the reader of its output closes the pipe early', async () => {
  const { env } = await cliEnv();
  // A body far larger than a pipe's buffer (64 KiB on Linux): the output cannot all be written before the close.
  const body = Array.from({ length: 8000 }, (_, i) => `Línea ${i} del registro de errores de la conciliación.`);
  const mail = ['From: carla@cliente.co', 'To: soporte@mesa.test', 'Subject: Registro', '', ...body, ''].join('\r\n');
  expect((await runCli(['ingest', '-'], { env, stdin: mail })).code).toBe(0);

  const child = spawn(process.execPath, [MESA_BIN, 'show', '1'], {
    cwd: env.DATA_DIR,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const first = await new Promise<string>((resolve) => child.stdout.once('data', (d) => resolve(String(d))));
  child.stdout.destroy();
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  expect(first).toContain('[Caso #1] Registro');
  expect(code).toBe(141);
  expect(stderr).toBe('');
});
