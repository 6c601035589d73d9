import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { testEnv } from '../../support/app.ts';
import { runCli, spawnCli, type RunningCli } from '../../support/cli.ts';
import { startDovecot, type Dovecot } from '../../support/dovecot.ts';
import { freePort } from '../../support/ports.ts';
import { startSmtpSink, type SmtpSink } from '../../support/smtp-sink.ts';
import { waitFor } from '../../support/wait.ts';
import { supportMailboxEnv } from '../../support/worlds.ts';

/**
 * Two `mesa start` on one SQLite file and one Dovecot mailbox, as when a second one is started by mistake next to
 * the systemd unit, or kept as a standby: one reads the mailbox, the other waits, and takes over at once when the
 * first is SIGKILLed. Before the lease covered SQLite both read every mail, and the one that lost each race logged
 * «fallo inesperado» for mail that was never in quarantine. SQLite only by nature (listed in tests/vitest.config.ts;
 * PostgreSQL's is tests/postgres/instances.test.ts).
 */
let dovecot: Dovecot;
let sink: SmtpSink;
let db: Knex;
let dataDir: string;
const instances: RunningCli[] = [];

const customerMail = (i: number) =>
  `From: Cliente ${i} <cliente${i}@empresa${i % 5}.com.co>\r\nTo: soporte@mesa.test\r\nSubject: Factura ${i} rechazada\r\n` +
  `Message-ID: <dos-${i}@empresa${i % 5}.com.co>\r\nDate: ${new Date().toUTCString()}\r\nMIME-Version: 1.0\r\n` +
  `Content-Type: text/plain; charset=utf-8\r\n\r\nLa factura ${i} sale rechazada por la DIAN.\r\n`;

const mailboxEnv = () => ({ ...testEnv(dataDir), ...supportMailboxEnv(dovecot) });

async function startInstance(): Promise<RunningCli> {
  const inst = spawnCli(['start'], {
    env: {
      ...mailboxEnv(),
      HTTP_PORT: String(await freePort()),
      LOG_LEVEL: 'info',
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(sink.port),
      SMTP_SECURE: 'false',
      OUTBOX_POLL_MS: '200',
    },
  });
  instances.push(inst);
  return inst;
}

const count = async (table: string, where: Record<string, unknown> = {}) =>
  Number((await db(table).where(where).count({ n: '*' }))[0].n);
const holderPid = async () => {
  const row = await db('leases').where({ name: 'mailbox:support:INBOX' }).first();
  return row ? Number(String(row.holder).split(':')[1]) : undefined;
};
const logs = () => instances.map((i) => `--- pid ${i.child.pid} ---\n${i.output().slice(-3000)}`).join('\n');
/** What `mesa mailbox status` says reads the mailbox: the «lo lee» line, or undefined. */
const readBy = async () =>
  (await runCli(['mailbox', 'status'], { env: mailboxEnv() })).stdout.match(/^ {2}lo lee: (.*)$/m)?.[1];
const ingested = (i: RunningCli) =>
  i
    .output()
    .split('\n')
    .filter((l) => l.includes('correo procesado')).length;
const errors = (i: RunningCli) =>
  i
    .output()
    .split('\n')
    .filter((l) => /"level":(50|60)/.test(l));

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-two-'));
  dovecot = await startDovecot({ users: ['support'] });
  sink = await startSmtpSink();
});
afterAll(async () => {
  for (const i of instances) if (i.child.exitCode === null) i.child.kill('SIGKILL');
  await Promise.all(instances.map((i) => i.exited));
  await db?.destroy();
  await sink?.close();
  await dovecot?.stop();
});

it('reads the mailbox from one of two mesa start on one SQLite file, and hands it over on SIGKILL', async () => {
  const FIRST = 40;
  const SECOND = 20;
  const first = await startInstance();
  await waitFor(`the first instance is up\n${logs()}`, () => /Mesa en marcha/.test(first.output()), 30_000);
  db = knexFactory({ client: 'better-sqlite3', connection: { filename: path.join(dataDir, 'mesa.sqlite') } });
  const standby = await startInstance();
  await waitFor(`the second instance is up\n${logs()}`, () => /Mesa en marcha/.test(standby.output()), 30_000);
  for (let i = 0; i < FIRST; i++) await dovecot.append('support', customerMail(i));
  await waitFor(`${FIRST} mails ingested\n${logs()}`, async () => (await count('ingest_ledger')) >= FIRST, 60_000, 100);

  // One reader: the other never fetched a mail, and said why it waits.
  expect(await holderPid()).toBe(first.child.pid);
  // Each mail's log line is written after its commit: awaited, not read at the moment the ledger is complete.
  await waitFor(`the first logged ${FIRST} mails\n${logs()}`, () => ingested(first) === FIRST, 10_000);
  expect(ingested(standby)).toBe(0);
  expect(standby.output()).toContain('el buzón lo atiende otra instancia; en espera');
  expect(await readBy()).toBe(`${os.hostname()}:${first.child.pid} (mesa start)`);

  // Killed while idle, its mail sent: a notice it had claimed would wait for its claim to run out (the outbox's own
  // lease, not this one).
  await waitFor(
    `outbox drained\n${logs()}`,
    async () => (await count('outbox')) > 0 && (await count('outbox', { state: 'sent' })) === (await count('outbox')),
    60_000,
    100,
  );
  const killedAt = Date.now();
  first.child.kill('SIGKILL');
  await first.exited;
  for (let i = FIRST; i < FIRST + SECOND; i++) await dovecot.append('support', customerMail(i));
  await waitFor(
    `the standby takes the mailbox\n${logs()}`,
    async () => (await holderPid()) === standby.child.pid,
    20_000,
    50,
  );
  // Its row was far from expiring (three missed checks of 3 s): the standby saw that its holder's process had ended.
  const takeoverMs = Date.now() - killedAt;
  console.log(`two instances on SQLite: mailbox taken over ${takeoverMs} ms after SIGKILL`);
  expect(takeoverMs).toBeLessThan(5000);
  await waitFor(
    `all ${FIRST + SECOND} mails ingested\n${logs()}`,
    async () => (await count('ingest_ledger')) >= FIRST + SECOND,
    60_000,
    100,
  );
  await waitFor(
    `outbox drained again\n${logs()}`,
    async () => (await count('outbox', { state: 'sent' })) === (await count('outbox')),
    60_000,
    100,
  );

  const numbers = (await db('tickets').select('number').orderBy('number')).map((r: any) => Number(r.number));
  expect(numbers).toEqual(Array.from({ length: FIRST + SECOND }, (_, i) => i + 1));
  await waitFor(`the standby logged ${SECOND} mails\n${logs()}`, () => ingested(standby) === SECOND, 10_000);
  expect(ingested(first)).toBe(FIRST);
  expect(await count('ingest_ledger', { outcome: 'accepted' })).toBe(FIRST + SECOND);
  expect(await count('quarantine')).toBe(0);
  expect([...errors(first), ...errors(standby)]).toEqual([]);
  const sent = sink.messages.map((m) => m.messageId);
  expect(new Set(sent).size).toBe(sent.length);

  // Its reader now; once it stops (SIGTERM), no one, and its row is gone at once rather than left to expire.
  expect(await readBy()).toBe(`${os.hostname()}:${standby.child.pid} (mesa start)`);
  standby.child.kill('SIGTERM');
  expect(await standby.exited).toBe(0);
  expect(await count('leases')).toBe(0);
  expect(await readBy()).toBeUndefined();
}, 180_000);
