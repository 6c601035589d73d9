import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApp } from '../../../src/app.ts';
import { silentLogger } from '../../../src/logger.ts';
import { buildServer } from '../../../src/web/server.ts';
import { testConfig } from '../../support/app.ts';
import { cliEnv, runCli, spawnCli } from '../../support/cli.ts';
import { startDovecot, type Dovecot } from '../../support/dovecot.ts';
import { waitFor } from '../../support/wait.ts';
import { supportMailboxEnv } from '../../support/worlds.ts';

let dovecot: Dovecot;

beforeAll(async () => {
  dovecot = await startDovecot({ users: ['support'] });
});
afterAll(async () => {
  await dovecot?.stop();
});

it('mesa start reads the mailbox, answers /healthz, and stops with exit 0 on SIGTERM', async () => {
  const { env } = await cliEnv({
    IMAP_HOST: dovecot.host,
    IMAP_PORT: String(dovecot.port),
    IMAP_SECURE: 'false',
    IMAP_USER: 'support',
    IMAP_PASSWORD: dovecot.users.support.password,
    HTTP_PORT: '0',
    LOG_LEVEL: 'info',
  });
  const { child, output, exited } = spawnCli(['start'], { env });
  try {
    // One startup line with the URL (HTTP_PORT=0: the system picked the port).
    const url = await waitFor(
      `startup line\n${output()}`,
      () => output().match(/Mesa en marcha en (http:\/\/127\.0\.0\.1:\d+)/)?.[1],
      30_000,
    );
    expect(
      output()
        .split('\n')
        .filter((l) => l.includes('Mesa en marcha')).length,
    ).toBe(1);

    await dovecot.append(
      'support',
      'From: ana@cliente.co\r\nTo: soporte@mesa.test\r\nSubject: No abre el portal\r\nMessage-ID: <st1@cliente.co>\r\n\r\nNo abre.\r\n',
    );
    await waitFor(
      `the mail processed\n${output()}`,
      () => /"verdict":"accepted".*"effect":"new_case"|"effect":"new_case".*"verdict":"accepted"/.test(output()),
      20_000,
    );

    const health = await waitFor('a successful poll in /healthz', async () => {
      const res = await fetch(`${url}/healthz`);
      const body = await res.json();
      return res.status === 200 && body.mailboxes[0]?.lastSuccessAt ? body : undefined;
    });
    expect(health).toMatchObject({ status: 'ok', database: 'ok', mailboxes: [{ name: 'support', lastError: null }] });
    expect(Number.isNaN(Date.parse(health.mailboxes[0].lastSuccessAt))).toBe(false);
    // Bodies and secrets stay out of the log.
    expect(output()).not.toContain(dovecot.users.support.password);
    expect(output()).not.toContain('No abre.');
  } finally {
    child.kill('SIGTERM');
  }
  expect(await exited).toBe(0);
  expect(output()).toMatch(/Mesa detenida/);
}, 60_000);

it("mesa mailbox status tells a password mailbox's last read and the server's refusal, not a claim", async () => {
  const { env } = await cliEnv({ ...supportMailboxEnv(dovecot), HTTP_PORT: '0', IMAP_PASSWORD: 'no-es-la-clave' });
  const status = async () => (await runCli(['mailbox', 'status'], { env })).stdout;
  const before = await status();
  expect(before).toContain('soporte (support): password\n  transporte: IMAP/SMTP\n');
  expect(before).toContain('última lectura correcta: ninguna todavía (¿corre mesa start?)');
  expect(before).not.toContain('conectado');

  // A wrong password: the server's refusal is what the operator reads.
  let run = spawnCli(['start'], { env });
  try {
    const refused = await waitFor('the refusal in mesa mailbox status', async () => {
      const out = await status();
      return out.includes('error al leer:') ? out : undefined;
    });
    expect(refused).toContain('última lectura correcta: ninguna todavía\n');
  } finally {
    run.child.kill('SIGTERM');
  }
  await run.exited;

  // The right one: the time of the last good read, and no error.
  run = spawnCli(['start'], { env: { ...env, IMAP_PASSWORD: dovecot.users.support.password } });
  try {
    const read = await waitFor('a good read in mesa mailbox status', async () => {
      const out = await status();
      return /última lectura correcta: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/.test(out) ? out : undefined;
    });
    expect(read).not.toContain('error al leer');
  } finally {
    run.child.kill('SIGTERM');
  }
  expect(await run.exited).toBe(0);
}, 60_000);

it('/healthz answers 503 when the database does not', async () => {
  const app = await createApp(await testConfig(), silentLogger);
  const server = buildServer(app);
  const ok = await server.inject({ method: 'GET', url: '/healthz' });
  expect(ok.statusCode).toBe(200);
  expect(ok.json()).toEqual({ status: 'ok', database: 'ok', mailboxes: [] });
  await app.db.destroy(); // the database goes away under a running server
  const down = await server.inject({ method: 'GET', url: '/healthz' });
  expect(down.statusCode).toBe(503);
  expect(down.json()).toMatchObject({ status: 'error', database: 'error' });
  await server.close();
});

it('mesa start on a port already taken says so in one line, with the key to change, and exits 70', async () => {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as net.AddressInfo).port;
  try {
    const { env } = await cliEnv({ HTTP_PORT: String(port) });
    const { output, exited } = spawnCli(['start'], { env });
    expect(await exited).toBe(70);
    expect(output()).toContain(
      `mesa: no se pudo iniciar: el puerto 127.0.0.1:${port} ya está en uso (¿otra instancia de Mesa?); cambie HTTP_PORT\n`,
    );
  } finally {
    await new Promise((resolve) => taken.close(resolve));
  }
}, 60_000);

it('mesa start refuses a processed folder that is the folder it reads, before it moves a single mail', async () => {
  // With IMAP_PROCESSED_FOLDER=INBOX each recorded mail was moved into INBOX again, under a new UID: read again
  // (a duplicate, ignored), moved again. Five mails made 4150 ledger rows in 12 s, without end.
  const { env } = await cliEnv({ ...supportMailboxEnv(dovecot), HTTP_PORT: '0' });
  const uid = await dovecot.append(
    'support',
    'From: Ana <ana@cliente.co>\r\nTo: soporte@mesa.test\r\nSubject: Factura\r\nMessage-ID: <bucle-1@cliente.co>\r\n\r\nHola.\r\n',
  );
  const mesa = spawnCli(['start'], { env: { ...env, IMAP_PROCESSED_FOLDER: 'inbox' } });
  try {
    const code = await Promise.race([mesa.exited, new Promise((r) => setTimeout(() => r('sigue corriendo'), 15_000))]);
    expect(code, mesa.output()).toBe(78);
    expect(mesa.output()).toContain(
      'IMAP_PROCESSED_FOLDER: es la carpeta que Mesa lee (IMAP_MAILBOX=INBOX): cada correo registrado volvería a ella',
    );
    // The mail is where it was, under the same UID.
    const client = await dovecot.client('support');
    try {
      await client.mailboxOpen('INBOX');
      expect((await client.search({ all: true }, { uid: true })) || []).toContain(uid);
    } finally {
      await client.logout();
    }
  } finally {
    if (mesa.child.exitCode === null) mesa.child.kill('SIGKILL');
    await mesa.exited;
  }
}, 60_000);
