import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { cliEnv, peakOf, runCli } from '../../support/cli.ts';

// The built `mesa ingest` taking a mail far over MAX_MESSAGE_BYTES (40 MB by default) from an MTA's pipe and from an
// mbox export, with the child's peak resident memory (VmHWM) read from /proc while it runs: the mail is kept on disk
// as it is read, so the process holds what the garbage collector has not yet taken back of its 1 MB pieces, not the
// whole: +19–54 MB here, where a mail read whole adds its size two or three times over (143 MB piped in took the
// process to 399 MB before).

const MB = 1024 * 1024;

/** ~`mb` MB of a pasted log, made as it is sent: the test process never holds it whole either. */
function hugeMail(mb: number, opts: { mboxFrom?: boolean } = {}): Readable {
  const block = Buffer.from(
    Array.from({ length: 16_000 }, (_, i) => `2026-12-07 10:00:${i % 60} ERROR conciliación fallida, lote ${i}`)
      .join('\r\n')
      .slice(0, MB - 2) + '\r\n',
  );
  async function* parts() {
    if (opts.mboxFrom) yield Buffer.from('From pedro@cliente.co Mon Dec  7 10:00:00 2026\n');
    yield Buffer.from(
      'From: Pedro <pedro@cliente.co>\r\nTo: soporte@mesa.test\r\nSubject: Log completo\r\n' +
        'Message-ID: <log-completo@cliente.co>\r\nDate: Mon, 07 Dec 2026 10:00:00 -0500\r\n' +
        'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n',
    );
    for (let i = 0; i < mb; i++) yield block;
  }
  return Readable.from(parts());
}

describe('mesa ingest with a mail far over the limit', { timeout: 120_000 }, () => {
  it('from a pipe: refuses it, keeps it, and never holds it whole', async () => {
    const { env } = await cliEnv();
    const small = await peakOf(['ingest', '-'], env, hugeMail(0));
    expect(small.code).toBe(0);
    const big = await peakOf(['ingest', '-'], env, hugeMail(120));
    expect(big.code).toBe(65);
    expect(big.stdout).toMatch(/^stdin: rechazado: too_large — \d{9} bytes > MAX_MESSAGE_BYTES 41943040/);
    console.log(
      `[ingest -] peak RSS ${(small.peak / MB).toFixed(0)} MB small, ${(big.peak / MB).toFixed(0)} MB 120 MB`,
    );
    expect(big.peak - small.peak).toBeLessThan(80 * MB);
    const [q] = JSON.parse((await runCli(['quarantine', '--json'], { env })).stdout);
    expect(q).toMatchObject({ reason: 'too_large', subject: 'Log completo' });
    expect(q.size).toBeGreaterThan(100 * MB);
  });

  it('in an mbox export: the file is scanned, not read, and its message kept as it is read', async () => {
    const { env } = await cliEnv();
    const file = path.join(env.DATA_DIR!, 'export.mbox');
    await pipeline(hugeMail(120, { mboxFrom: true }), fs.createWriteStream(file));
    const small = await peakOf(['ingest', '-'], env, hugeMail(0));
    const big = await peakOf(['ingest', file], env);
    expect(big.code).toBe(65);
    expect(big.stdout).toMatch(/export\.mbox#1: rechazado: too_large/);
    console.log(
      `[ingest mbox] peak RSS ${(small.peak / MB).toFixed(0)} MB small, ${(big.peak / MB).toFixed(0)} MB 120 MB`,
    );
    expect(big.peak - small.peak).toBeLessThan(80 * MB);
  });
});
