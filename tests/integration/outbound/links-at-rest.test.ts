import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Knex } from 'knex';
import type { Config } from '../../../src/config.ts';
import { openDatabase } from '../../../src/db/knex.ts';
import { runJobs } from '../../../src/jobs/run.ts';
import { cliEnv, spawnCli } from '../../support/cli.ts';
import { startDovecot } from '../../support/dovecot.ts';
import { startSmtpSink } from '../../support/smtp-sink.ts';
import { waitFor } from '../../support/wait.ts';
import { rawMail } from './fixtures.ts';
import { liveWorld, supportMailboxEnv, type LiveWorld } from '../../support/worlds.ts';

/**
 * Issue 23: a database backup must not open cases. The outbox keeps mail sealed (src/links/sealed.ts): every link
 * delivered to the SMTP sink is looked for in the whole database (the SQLite file and its WAL as bytes, and every
 * row of every table on either database) and is not there; the link still works on the page; a retry sends the same
 * Message-ID and the same link; sent mail leaves the outbox after OUTBOX_RETENTION_DAYS.
 */
let w: LiveWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const DAY = 86_400_000;
const tokensIn = (text: string) =>
  [...text.matchAll(/\/caso\/([0-9a-z]+\.[0-9a-z]+\.[0-9a-z]+\.[A-Za-z0-9_-]{32})/g)].map((m) => m[1]);

/** Every row of every table, as text. */
async function dumpRows(db: Knex, config: Config): Promise<string> {
  const tables: string[] =
    config.database.client === 'pg'
      ? (
          await db.raw(
            "select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'",
          )
        ).rows.map((r: any) => r.name)
      : (await db.raw("select name from sqlite_master where type = 'table'")).map((r: any) => r.name);
  expect(tables).toEqual(expect.arrayContaining(['outbox', 'links', 'events', 'messages']));
  let out = '';
  for (const t of tables) {
    for (const r of await db.select('*').from(t))
      out += `${JSON.stringify(r, (_k, v) => (v?.type === 'Buffer' ? Buffer.from(v.data).toString('latin1') : v))}\n`;
  }
  return out;
}

/** The SQLite database's bytes on disk (its file and write-ahead log), or nothing on PostgreSQL. */
function dumpFiles(config: Config): string {
  const file = config.database.filename;
  if (!file) return '';
  return [file, `${file}-wal`]
    .filter((f) => fs.existsSync(f))
    .map((f) => fs.readFileSync(f).toString('latin1'))
    .join('');
}

describe('no link in clear at rest', () => {
  it('keeps no delivered link in the database, and the link opens the case on the page', async () => {
    w = await liveWorld();
    const r = await w.ingest(
      rawMail({ from: 'carla@empresa.com', subject: 'No puedo facturar', body: 'Sale un error al facturar.' }),
    );
    expect(r.outcome).toBe('accepted');
    const sent = await w.sink.waitFor(() => true, { count: 3, timeoutMs: 15_000 });
    const tokens = sent.flatMap((m) => [...tokensIn(m.text), ...tokensIn(m.html)]);
    // The customer's confirmation and each consultant's notice carry a link; one token per recipient.
    expect(new Set(tokens).size).toBe(3);
    await waitFor(
      'todo marcado como enviado',
      async () => (await w!.app.db('outbox').whereNot({ state: 'sent' })).length === 0,
    );

    const rows = await dumpRows(w.app.db, w.app.config);
    const files = dumpFiles(w.app.config);
    expect(rows).toContain('carla@empresa.com'); // the dump does see the data
    for (const token of tokens) {
      expect(rows).not.toContain(token);
      expect(files).not.toContain(token);
      // Not even the MAC part alone.
      expect(rows).not.toContain(token.split('.')[3]);
    }
    const stored = JSON.parse((await w.app.db('outbox').where({ kind: 'confirmation' }).first()).mail_json);
    expect(stored.render.data.caseUrl).toEqual({ $link: expect.objectContaining({ number: 1, generation: 1 }) });

    const customerLink = tokensIn(w.sink.to('carla@empresa.com')[0].text)[0];
    const page = await fetch(`${w.baseUrl}/caso/${customerLink}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('No puedo facturar');
  });

  it('sends the same Message-ID and the same working link when a mail is sent again', async () => {
    w = await liveWorld();
    await w.ingest(rawMail({ from: 'carla@empresa.com', subject: 'Otra consulta', body: 'Hola.' }));
    const [first] = await w.sink.waitFor((m) => m.to.includes('carla@empresa.com'), { timeoutMs: 15_000 });
    await waitFor(
      'marcado como enviado',
      async () => (await w!.app.db('outbox').where({ kind: 'confirmation', state: 'sent' })).length === 1,
    );
    // A dispatcher that died between the SMTP server's "250" and recording it: the row is sent again.
    await w.app
      .db('outbox')
      .where({ kind: 'confirmation' })
      .update({ state: 'pending', next_attempt_at: Date.now(), sent_at: null });
    w.app.outbound.dispatcher.kick();
    const both = await w.sink.waitFor((m) => m.to.includes('carla@empresa.com'), { count: 2, timeoutMs: 15_000 });
    expect(both[1].messageId).toBe(first.messageId);
    expect(tokensIn(both[1].text)).toEqual(tokensIn(first.text));
    expect((await fetch(`${w.baseUrl}/caso/${tokensIn(both[1].text)[0]}`)).status).toBe(200);
  });

  it('deletes sent mail after OUTBOX_RETENTION_DAYS, and keeps mail not sent yet', async () => {
    w = await liveWorld({ OUTBOX_RETENTION_DAYS: '30' });
    await w.ingest(rawMail({ from: 'carla@empresa.com', subject: 'Para la retención', body: 'Hola.' }));
    await waitFor('tres enviados', async () => (await w!.app.db('outbox').where({ state: 'sent' })).length === 3);
    // A mail that could not be sent yet (held by the loop budget, say) is never purged.
    await w.app.db('outbox').where({ recipient: 'beto@mesa.test' }).update({ state: 'held', held_reason: 'prueba' });
    const deps = {
      db: w.app.db,
      config: w.app.config,
      cases: w.app.cases,
      policy: w.app.policy,
      logger: w.app.logger,
      blobs: w.app.blobs,
    };
    const caseMail = await w.sink.waitFor(() => true, { count: 3 });
    // The jobs below queue mail of their own past DIGEST_TIME (the morning digests): unsent from here on, it never
    // ages into the purge, and only the case's mail is counted.
    await w.app.outbound.dispatcher.stop();

    const before = (await w.app.db('outbox').select('id')).map((r: any) => Number(r.id));
    expect(before.length).toBe(3);
    const early = await runJobs(deps, Date.now() + 29 * DAY);
    expect(early.purgedMail).toBe(0);
    // Counted by id: past DIGEST_TIME of the day the test runs, this run also queues the morning digests.
    expect((await w.app.db('outbox').whereIn('id', before)).length).toBe(3);

    const late = await runJobs(deps, Date.now() + 31 * DAY);
    expect(late.errors).toEqual([]);
    expect(late.purgedMail).toBe(2);
    // (That run also queued its own mail, the morning digests: not part of this.)
    const left = (await w.app.db('outbox').whereIn('id', before)).map((r: any) => r.state);
    expect(left).toEqual(['held']);
    // Replies still find the case: the Message-IDs of the deleted mail stay in thread_ids.
    const ids = (await w.app.db('thread_ids')).map((r: any) => r.message_id);
    for (const m of caseMail) expect(ids).toContain(m.messageId.replace(/^<|>$/g, ''));
  });

  it('through mesa start: mail appended to Dovecot, delivered by SMTP, and no delivered link in the database', async () => {
    const dovecot = await startDovecot({ users: ['support'] });
    const sink = await startSmtpSink();
    const { config, env } = await cliEnv({
      ...supportMailboxEnv(dovecot),
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(sink.port),
      SMTP_SECURE: 'false',
      OUTBOX_POLL_MS: '100',
      HTTP_PORT: '0',
      LOG_LEVEL: 'info',
    });
    const { child, output, exited } = spawnCli(['start'], { env });
    const db = openDatabase(config.database);
    try {
      const url = await waitFor(
        `arranque\n${output()}`,
        () => output().match(/Mesa en marcha en (http:\/\/127\.0\.0\.1:\d+)/)?.[1],
        30_000,
      );
      await dovecot.append(
        'support',
        'From: carla@empresa.com\r\nTo: soporte@mesa.test\r\nSubject: No puedo facturar\r\nMessage-ID: <rest-1@empresa.com>\r\n\r\nSale un error.\r\n',
      );
      const sent = await sink.waitFor(() => true, { count: 3, timeoutMs: 30_000 });
      await waitFor(
        'todo marcado como enviado',
        async () => (await db('outbox').whereNot({ state: 'sent' })).length === 0 && (await db('outbox')).length === 3,
      );
      const tokens = sent.flatMap((m) => tokensIn(m.text));
      expect(new Set(tokens).size).toBe(3);
      const rows = await dumpRows(db, config);
      const files = dumpFiles(config);
      expect(rows).toContain('rest-1@empresa.com');
      for (const token of tokens) {
        expect(rows).not.toContain(token);
        expect(files).not.toContain(token);
      }
      const page = await fetch(`${url}/caso/${tokensIn(sink.to('carla@empresa.com')[0].text)[0]}`);
      expect(page.status).toBe(200);
    } finally {
      child.kill('SIGTERM');
      await exited;
      await db.destroy();
      await sink.close();
      await dovecot.stop();
    }
  }, 90_000);
});
