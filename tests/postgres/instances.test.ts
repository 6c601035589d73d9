import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type Dovecot } from '../support/dovecot.ts';
import { testEnv } from '../support/app.ts';
import { spawnCli, type RunningCli } from '../support/cli.ts';
import { freePort } from '../support/ports.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';
import { waitFor } from '../support/wait.ts';
import { freshDatabase, pgReachable } from './support/pg.ts';

/**
 * Three `mesa start` processes on one PostgreSQL database, one Dovecot mailbox and one SMTP sink, as a company
 * would run them behind a load balancer: they ingest and send together, the mailbox holder is SIGKILLed, and the
 * others carry on. DATA_DIR is shared (one machine here; a shared volume across machines), since attachments and
 * raw mail stored by one instance are served and sent by any.
 */
const ROOT = path.resolve(import.meta.dirname, '../..');

interface Instance extends RunningCli {
  port: number;
}

let dovecot: Dovecot;
let sink: SmtpSink;
let db: Knex;
let databaseUrl: string;
let dataDir: string;
const instances: Instance[] = [];

const customerMail = (i: number) =>
  `From: Cliente ${i} <cliente${i}@empresa${i % 5}.com.co>\r\nTo: soporte@mesa.test\r\nSubject: Problema con el módulo ${i}\r\n` +
  `Message-ID: <multi-${i}@empresa${i % 5}.com.co>\r\nDate: ${new Date().toUTCString()}\r\nMIME-Version: 1.0\r\n` +
  `Content-Type: text/plain; charset=utf-8\r\n\r\nNo puedo guardar el documento ${i}.\r\n`;

function startInstance(port: number): Instance {
  return {
    port,
    ...spawnCli(['start'], {
      cwd: ROOT,
      keep: 20_000,
      env: {
        ...testEnv(dataDir),
        DATABASE_URL: databaseUrl,
        HTTP_PORT: String(port),
        LOG_LEVEL: 'info',
        IMAP_HOST: dovecot.host,
        IMAP_PORT: String(dovecot.port),
        IMAP_SECURE: 'false',
        IMAP_USER: 'support',
        IMAP_PASSWORD: dovecot.users.support.password,
        IMAP_POLL_SECONDS: '2',
        SMTP_HOST: '127.0.0.1',
        SMTP_PORT: String(sink.port),
        SMTP_SECURE: 'false',
        OUTBOX_POLL_MS: '200',
      },
    }),
  };
}

const count = async (table: string, where: Record<string, unknown> = {}) =>
  Number((await db(table).where(where).count({ n: '*' }))[0].n);
const holderPid = async () => {
  const row = await db('leases').where({ name: 'mailbox:support:INBOX' }).first();
  return row ? Number(String(row.holder).split(':')[1]) : undefined;
};
const logs = () =>
  instances.map((i, n) => `--- instancia ${n} (pid ${i.child.pid}) ---\n${i.output().slice(-3000)}`).join('\n');

describe.runIf(await pgReachable())('three mesa start instances on one PostgreSQL', () => {
  beforeAll(async () => {
    databaseUrl = await freshDatabase('mesa_multi');
    db = knexFactory({ client: 'pg', connection: databaseUrl });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-multi-'));
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

  it('ingest and send together with no duplicate and no loss, and survive SIGKILL of the mailbox holder', async () => {
    const FIRST = 30;
    const SECOND = 20;
    for (let i = 0; i < FIRST; i++) await dovecot.append('support', customerMail(i));
    const ports = [await freePort(), await freePort(), await freePort()];
    // Started together: the three also race to migrate the empty database.
    for (const port of ports) instances.push(startInstance(port));

    // Every instance serves its own status page and health check.
    for (const inst of instances) {
      await waitFor(
        `/healthz on ${inst.port}\n${logs()}`,
        async () => (await fetch(`http://127.0.0.1:${inst.port}/healthz`)).ok,
        60_000,
        100,
      );
    }
    await waitFor(
      `${FIRST} mails ingested\n${logs()}`,
      async () => (await count('ingest_ledger')) >= FIRST,
      90_000,
      100,
    );
    await waitFor(
      `outbox drained\n${logs()}`,
      async () => (await count('outbox')) > 0 && (await count('outbox', { state: 'sent' })) === (await count('outbox')),
      90_000,
      100,
    );

    // Exactly one instance holds the mailbox; kill it while it is idle.
    const pid = await waitFor('a recorded mailbox holder', holderPid, 10_000);
    const victim = instances.find((i) => i.child.pid === pid);
    expect(victim, `holder pid ${pid} is one of ours`).toBeDefined();
    const killedAt = Date.now();
    victim!.child.kill('SIGKILL');
    await victim!.exited;
    for (let i = FIRST; i < FIRST + SECOND; i++) await dovecot.append('support', customerMail(i));

    const newHolder = await waitFor(
      `another instance takes the mailbox\n${logs()}`,
      async () => {
        const p = await holderPid();
        return p !== undefined && p !== pid ? p : undefined;
      },
      30_000,
      50,
    );
    const takeoverMs = Date.now() - killedAt;
    expect(instances.some((i) => i.child.pid === newHolder && i.child.exitCode === null)).toBe(true);
    await waitFor(
      `all ${FIRST + SECOND} mails ingested after the kill\n${logs()}`,
      async () => (await count('ingest_ledger')) >= FIRST + SECOND,
      90_000,
      100,
    );
    await waitFor(
      `outbox drained again\n${logs()}`,
      async () => (await count('outbox', { state: 'sent' })) === (await count('outbox')),
      90_000,
      100,
    );

    // No duplicate case, consecutive numbers, one ledger row per mail.
    const numbers = (await db('tickets').select('number').orderBy('number')).map((r: any) => Number(r.number));
    expect(numbers).toEqual(Array.from({ length: FIRST + SECOND }, (_, i) => i + 1));
    expect(await count('ingest_ledger', { outcome: 'accepted' })).toBe(FIRST + SECOND);
    // Every outbox row reached the sink exactly once: none lost, none sent twice.
    const outbox = await db('outbox').select('message_id');
    const sent = sink.messages.map((m) => m.messageId.replace(/^<|>$/g, ''));
    expect(new Set(sent).size).toBe(sent.length);
    expect(sent.sort()).toEqual(outbox.map((r: any) => String(r.message_id).replace(/^<|>$/g, '')).sort());
    // Both surviving instances sent mail: the dispatchers share the outbox (FOR UPDATE SKIP LOCKED).
    const senders = new Set(
      (await db('outbox').select('claimed_by')).map((r: any) => String(r.claimed_by).split(':')[1]),
    );
    console.log(
      `multi-instance: ${FIRST + SECOND} mails, ${sent.length} sent by ${senders.size} dispatchers; mailbox taken over ${takeoverMs} ms after SIGKILL`,
    );
    expect(senders.size).toBeGreaterThanOrEqual(2);
    // Its own limit, above the sum of its waits: when it fails, the message names the stage that stalled (with the
    // instances' logs) instead of the suite's 60 s timeout cutting it off first.
  }, 240_000);
});
