import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { Config, Env } from '../../src/config.ts';
import { testConfig, testEnv } from './app.ts';
import { MESA_BIN as BIN } from './built.ts';
import { waitFor } from './wait.ts';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A temp DATA_DIR (and a fresh PostgreSQL database under MESA_TEST_DATABASE=postgres) for CLI runs. */
export async function cliEnv(extra: Env = {}): Promise<{ config: Config; env: Env }> {
  const config = await testConfig(extra);
  const env: Env = {
    ...testEnv(config.dataDir, extra),
    DATABASE_URL: config.database.client === 'pg' ? config.database.url : config.database.filename,
  };
  return { config, env };
}

/** Runs the real `mesa` executable (the build, dist/src/cli.js), as a user or an MTA would, in the DATA_DIR (so no stray .env is read). */
export function runCli(args: string[], opts: { env: Env; stdin?: string | Buffer; cwd?: string }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' };
    for (const [k, v] of Object.entries(opts.env)) if (v !== undefined) env[k] = v;
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd ?? opts.env.DATA_DIR,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.stdin ?? '');
  });
}

export interface RunningCli {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/**
 * Starts the real `mesa` executable and leaves it running (`mesa start`, as an operator or a process manager does):
 * its environment is this process's plus `env`, its stdout and stderr are kept together (the last `keep` characters),
 * and `exited` resolves with its exit code.
 */
export function spawnCli(
  args: string[],
  opts: { env: Env; cwd?: string; keep?: number; nodeArgs?: string[] },
): RunningCli {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), BIN, ...args], {
    cwd: opts.cwd ?? opts.env.DATA_DIR,
    env: { ...process.env, ...opts.env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => (out = (out + d).slice(-(opts.keep ?? Infinity)));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  running.add(child);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  return { child, output: () => out, exited };
}

/**
 * `mesa start` in a child process on the port its HTTP_PORT says (0: any free one), once it says where it listens:
 * the process and that address. Stopped by `stopMesa`.
 */
export async function startMesa(env: Env): Promise<{ mesa: RunningCli; base: string }> {
  const mesa = spawnCli(['start'], { env, keep: 20_000 });
  const base = await waitFor(
    `mesa start\n${mesa.output()}`,
    () => mesa.output().match(/Mesa en marcha en (http:\/\/127\.0\.0\.1:\d+)/)?.[1],
    30_000,
  );
  return { mesa, base };
}

/** Stops a `mesa start` as a process manager does (SIGTERM) and waits for it to exit. */
export async function stopMesa(mesa: RunningCli | undefined): Promise<void> {
  mesa?.child.kill('SIGTERM');
  await mesa?.exited;
}

/** A process's resident memory now, in bytes (Linux /proc). */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

/**
 * Every `mesa` this test process started and that still runs. A test that fails while one runs (a wait that timed
 * out) must not leave it behind: it would keep polling a Dovecot that is gone, and load the machine for the tests
 * after it.
 */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Runs the built `mesa` with `stdin` piped in; its exit code, output, and the highest VmHWM read while it ran. */
export function peakOf(
  args: string[],
  env: Env,
  stdin?: Readable,
): Promise<{ code: number | null; stdout: string; peak: number }> {
  return new Promise((resolve, reject) => {
    const vars: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' };
    for (const [k, v] of Object.entries(env)) if (v !== undefined) vars[k] = v;
    const child = spawn(process.execPath, [BIN, ...args], { cwd: env.DATA_DIR, env: vars });
    let peak = 0;
    const read = () => {
      const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, { encoding: 'utf8', flag: 'r' }));
      if (m) peak = Math.max(peak, Number(m[1]) * 1024);
    };
    const timer = setInterval(() => {
      try {
        read();
      } catch {
        // gone between two reads
      }
    }, 20);
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(timer);
      resolve({ code, stdout, peak });
    });
    if (stdin) pipeline(stdin, child.stdin).catch(() => undefined);
    else child.stdin.end();
  });
}
