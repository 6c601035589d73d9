import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Config, Env } from '../../src/config.ts';
import { testConfig, testEnv } from './app.ts';

const BIN = path.resolve(import.meta.dirname, '../../src/bin.js');

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

/** Runs the real `mesa` executable, as a user or an MTA would, in the DATA_DIR (so no stray .env is read). */
export function runCli(args: string[], opts: { env: Env; stdin?: string | Buffer; cwd?: string }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' };
    for (const [k, v] of Object.entries(opts.env)) if (v !== undefined) env[k] = v;
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? opts.env.DATA_DIR, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.stdin ?? '');
  });
}
