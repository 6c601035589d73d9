import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase } from '../../../src/db/knex.ts';
import { selfSignedCertificate } from '../../support/certificate.ts';
import { cliEnv, runCli } from '../../support/cli.ts';

/**
 * Mail leaves through the SMTP servers desks really use: submission with STARTTLS (port 587: Microsoft 365, Gmail)
 * and implicit TLS (SMTP_SECURE=true, port 465), against a real smtp-server with a certificate for `localhost` that
 * the `mesa` process trusts through NODE_EXTRA_CA_CERTS. Mesa opens the TCP connection itself (TCP_NODELAY,
 * src/outbound/transport.ts) and nodemailer upgrades it: these show the upgrade happens, and that a certificate
 * nobody vouches for stops the mail instead of sending it in clear.
 */
let dir: string;
let cert: string;
let key: string;
const servers: SMTPServer[] = [];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-smtp-tls-'));
  ({ key, cert } = selfSignedCertificate(dir, 'localhost', { host: true }));
});
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Received {
  to: string[];
  secure: boolean;
}

async function tlsServer(implicit: boolean): Promise<{ port: number; received: Received[] }> {
  const received: Received[] = [];
  const server = new SMTPServer({
    secure: implicit,
    key: fs.readFileSync(key),
    cert: fs.readFileSync(cert),
    authOptional: true,
    logger: false,
    onData(stream, session, cb) {
      stream.on('data', () => undefined);
      stream.on('end', () => {
        received.push({ to: session.envelope.rcptTo.map((r) => r.address), secure: session.secure });
        cb();
      });
    },
  });
  // A client that refuses the certificate drops the TLS handshake: the server reports it, and nothing else happens.
  server.on('error', () => undefined);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { port: (server.server.address() as AddressInfo).port, received };
}

const mail =
  'From: Marta Ríos <marta@cliente.co>\r\nTo: soporte@mesa.test\r\nSubject: No puedo emitir facturas\r\n' +
  'Message-ID: <tls-1@cliente.co>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n' +
  'Desde ayer no puedo emitir facturas.\r\n';

async function sendThrough(port: number, secure: boolean, trusted: boolean, extra: Record<string, string> = {}) {
  const { config, env } = await cliEnv({
    ...extra,
    SMTP_HOST: 'localhost',
    SMTP_PORT: String(port),
    SMTP_SECURE: String(secure),
    ...(trusted ? { NODE_EXTRA_CA_CERTS: cert } : {}),
  });
  expect((await runCli(['ingest', '-'], { env, stdin: mail })).code).toBe(0);
  const run = await runCli(['outbox', '--send'], { env });
  const db = openDatabase(config.database);
  try {
    const rows = await db('outbox').whereNotNull('ticket_id').select('state', 'last_error');
    return { run, rows };
  } finally {
    await db.destroy();
  }
}

it('sends over STARTTLS (SMTP_SECURE=false, port 587 style): the session is encrypted', async () => {
  const server = await tlsServer(false);
  const { run, rows } = await sendThrough(server.port, false, true, { LOG_LEVEL: 'info' });
  expect(run.code, run.stderr).toBe(0);
  // One line per mail from the dispatcher; nodemailer's own chatter («Using proxied socket…», two lines per mail)
  // only with LOG_LEVEL=debug.
  const lines = (run.stdout + run.stderr).split('\n').filter((l) => l.startsWith('{'));
  expect(lines.filter((l) => l.includes('"msg":"correo enviado"'))).toHaveLength(3);
  expect(lines.filter((l) => l.includes('"component":"smtp"'))).toEqual([]);
  expect(rows.map((r) => r.state)).toEqual(['sent', 'sent', 'sent']);
  expect(server.received.map((r) => r.to[0]).sort()).toEqual(['ana@mesa.test', 'beto@mesa.test', 'marta@cliente.co']);
  expect(server.received.every((r) => r.secure)).toBe(true);
});

it('sends over implicit TLS (SMTP_SECURE=true, port 465 style)', async () => {
  const server = await tlsServer(true);
  const { run, rows } = await sendThrough(server.port, true, true);
  expect(run.code, run.stderr).toBe(0);
  expect(rows.map((r) => r.state)).toEqual(['sent', 'sent', 'sent']);
  expect(server.received).toHaveLength(3);
  expect(server.received.every((r) => r.secure)).toBe(true);
});

it('a certificate nobody vouches for keeps the mail pending, with the reason, and sends nothing in clear', async () => {
  for (const implicit of [false, true]) {
    const server = await tlsServer(implicit);
    const { rows } = await sendThrough(server.port, implicit, false);
    expect(server.received).toEqual([]);
    expect(rows.map((r) => r.state)).toEqual(['pending', 'pending', 'pending']);
    for (const r of rows) expect(r.last_error).toMatch(/self-signed certificate/i);
  }
});
