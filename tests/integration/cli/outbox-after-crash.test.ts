import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase } from '../../../src/db/knex.ts';
import { MESA_BIN } from '../../support/built.ts';
import { cliEnv, runCli, spawnCli, stopMesa, type RunningCli } from '../../support/cli.ts';
import { freePort } from '../../support/ports.ts';
import { startSmtpSink, type SmtpSink } from '../../support/smtp-sink.ts';
import { waitFor } from '../../support/wait.ts';

/**
 * `mesa start` killed (SIGKILL, the OOM killer, a crash) while it was sending: the mail it had claimed is marked
 * «sending» with a five-minute claim. When the process that claimed it is gone from this machine, the next
 * `mesa start` (systemd restarts it within seconds) sends that mail at once instead of after the claim runs out;
 * before, the customer's confirmation waited those five minutes. The claim names the process by its machine's
 * hostname, which may be long (a Kubernetes pod's name has up to 63 characters).
 */
let sink: SmtpSink;
let silent: net.Server;
const sockets: net.Socket[] = [];

beforeAll(async () => {
  sink = await startSmtpSink();
  // An SMTP server that accepts the connection and never greets: every send stays in flight.
  silent = net.createServer((s) => sockets.push(s));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => silent?.close(resolve));
  await sink?.close();
});

const mail =
  'From: Marta Ríos <marta@cliente.co>\r\nTo: soporte@mesa.test\r\nSubject: No puedo emitir facturas\r\n' +
  'Message-ID: <caida-1@cliente.co>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n' +
  'Desde ayer no puedo emitir facturas.\r\n';

it('mail claimed by a mesa start that was SIGKILLed is sent at once by the next one', async () => {
  const { config, env } = await cliEnv({ LOG_LEVEL: 'info', OUTBOX_POLL_MS: '200', SMTP_SECURE: 'false' });
  const ingested = await runCli(['ingest', '-'], { env, stdin: mail });
  expect(ingested.code, ingested.stderr).toBe(0);
  const db = openDatabase(config.database);
  const start = async (smtpPort: number): Promise<RunningCli> =>
    spawnCli(['start'], {
      env: { ...env, HTTP_PORT: String(await freePort()), SMTP_HOST: '127.0.0.1', SMTP_PORT: String(smtpPort) },
    });
  let first: RunningCli | undefined;
  let second: RunningCli | undefined;
  try {
    const silentPort = (silent.address() as net.AddressInfo).port;
    first = await start(silentPort);
    // The case's three mails (the clock jobs of `mesa start` may add a digest for each consultant).
    const states = async () =>
      (await db('outbox').whereNotNull('ticket_id').select('state')).map((r) => r.state).sort();
    await waitFor(
      `the three mails claimed`,
      async () => (await states()).join() === 'sending,sending,sending',
      20_000,
    ).catch((err) => {
      throw new Error(`${err.message}\n${first!.output()}`);
    });
    first.child.kill('SIGKILL');
    await first.exited;

    const restartedAt = Date.now();
    second = await start(sink.port);
    const sent = await sink.waitFor((m) => m.header('x-mesa-case') === '1', { count: 3, timeoutMs: 30_000 });
    expect(sent.map((m) => m.to).sort()).toEqual(['ana@mesa.test', 'beto@mesa.test', 'marta@cliente.co']);
    // Well within the five-minute claim of the dead process (a run takes 1–3 s, most of it starting up).
    expect(Date.now() - restartedAt).toBeLessThan(30_000);
    await waitFor('the rows marked sent', async () => (await states()).join() === 'sent,sent,sent');
    const rows = await db('outbox').whereNotNull('ticket_id').select('attempts');
    expect(rows.map((r) => Number(r.attempts))).toEqual([2, 2, 2]);
  } finally {
    if (first?.child.exitCode === null) first.child.kill('SIGKILL');
    await stopMesa(second);
    await db.destroy();
  }
}, 90_000);

it('mesa start SIGKILLed in the middle of a burst: after the restart every mail has arrived, a repeat with its own Message-ID', async () => {
  const { config, env } = await cliEnv({ LOG_LEVEL: 'info', OUTBOX_POLL_MS: '200', SMTP_SECURE: 'false' });
  const dir = path.join(env.DATA_DIR!, 'rafaga');
  fs.mkdirSync(dir);
  for (let i = 1; i <= 20; i++)
    fs.writeFileSync(
      path.join(dir, `${i}.eml`),
      mail.replace('marta@cliente.co', `cliente${i}@empresa${i}.co`).replace('caida-1', `rafaga-${i}`),
    );
  const ingested = await runCli(['ingest', '--no-progress', dir], { env });
  expect(ingested.code, ingested.stderr).toBe(0);
  const db = openDatabase(config.database);
  const start = async (): Promise<RunningCli> =>
    spawnCli(['start'], {
      env: { ...env, HTTP_PORT: String(await freePort()), SMTP_HOST: '127.0.0.1', SMTP_PORT: String(sink.port) },
    });
  let first: RunningCli | undefined;
  let second: RunningCli | undefined;
  try {
    // A confirmation and two consultant notices per case.
    const ids = new Set((await db('outbox').whereNotNull('ticket_id').select('message_id')).map((r) => r.message_id));
    expect(ids.size).toBe(60);
    const arrived = () => sink.messages.filter((m) => ids.has(m.messageId));
    first = await start();
    await waitFor(`20 of the 60 mails sent\n${first.output()}`, () => arrived().length >= 20, 30_000);
    first.child.kill('SIGKILL');
    await first.exited;
    second = await start();
    await waitFor(
      'every row marked sent',
      async () =>
        Number((await db('outbox').whereNotNull('ticket_id').whereNot({ state: 'sent' }).count({ n: '*' }))[0].n) === 0,
      60_000,
    );
    const got = arrived().map((m) => m.messageId);
    expect(new Set(got)).toEqual(ids);
    // Sent again: at most what the killed process had sent since its last claim (four per SMTP connection, three).
    expect(got.length - ids.size).toBeLessThanOrEqual(12);
  } finally {
    if (first?.child.exitCode === null) first.child.kill('SIGKILL');
    await stopMesa(second);
    await db.destroy();
  }
}, 120_000);

it('a machine with a 62-character hostname sends its mail (the claim names it in full)', async () => {
  const { env } = await cliEnv({ SMTP_HOST: '127.0.0.1', SMTP_PORT: String(sink.port), SMTP_SECURE: 'false' });
  const ingested = await runCli(['ingest', '-'], { env, stdin: mail.replace('caida-1', 'caida-2') });
  expect(ingested.code, ingested.stderr).toBe(0);
  const before = sink.messages.length;
  const host = 'mesa-soporte-produccion-worker-statefulset-0.mesa-headless-svc';
  // A UTS namespace of its own (unshare(1)): the hostname changes for `mesa outbox --send` only.
  const unshare = process.getuid?.() === 0 ? ['-u'] : ['-u', '-r'];
  const child = spawn(
    'unshare',
    [...unshare, 'sh', '-c', 'hostname "$1" && exec "$2" "$3" outbox --send', 'sh', host, process.execPath, MESA_BIN],
    { cwd: env.DATA_DIR, env: { ...process.env, ...env } as NodeJS.ProcessEnv },
  );
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const code = await new Promise((resolve) => child.on('close', resolve));
  // On PostgreSQL the claim was refused («value too long for type character varying(64)») and nothing was sent.
  expect(code, out).toBe(0);
  expect(out).toContain('Procesados 3 correo(s): 3 enviado(s).');
  expect(
    sink.messages
      .slice(before)
      .map((m) => m.to)
      .sort(),
  ).toEqual(['ana@mesa.test', 'beto@mesa.test', 'marta@cliente.co']);
}, 60_000);
