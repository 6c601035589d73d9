import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ImapFlow } from 'imapflow';
import { simpleParser, type ParsedMail } from 'mailparser';
import nodemailer from 'nodemailer';
import pg from 'pg';
import { connectWithoutDelay } from '../../src/outbound/transport.ts';
import { cpuMeter, peakRssMb, type ImapTarget, type PhaseResult, type Warm } from './phases.ts';

/**
 * The limits Mesa is compared with: the least a program must do to read the same mails (one range FETCH, simpleParser,
 * one INSERT per mail) or to send the same mail. Each limit is warmed as Mesa is (tests/bench/phases.ts): `warm.count`
 * mails of the same kind first, through the same code and connections, then the timed mails; only those count.
 */

/** Where a bare limit writes each parsed mail: one INSERT per mail; `flush` ends the folder (an open transaction). */
export interface BareStore {
  insert(uid: number, parsed: ParsedMail): void | Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** SQLite: better-sqlite3, autocommit, the journal settings Mesa runs with. */
export function sqliteStore(): BareStore {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-bare-'));
  const db = new Database(path.join(dir, 'bare.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  // Its own key, not the UID: the warm-up folder and the timed folder number their mails from 1 alike.
  db.exec(
    'CREATE TABLE mail (id INTEGER PRIMARY KEY, uid INTEGER, message_id TEXT, sender TEXT, subject TEXT, body TEXT)',
  );
  const insert = db.prepare('INSERT INTO mail (uid, message_id, sender, subject, body) VALUES (?, ?, ?, ?, ?)');
  return {
    insert: (uid, p) => {
      insert.run(uid, p.messageId ?? null, p.from?.text ?? null, p.subject ?? null, p.text ?? '');
    },
    flush: async () => undefined,
    close: async () => {
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Mails per transaction on PostgreSQL, as Mesa's poller batches there (src/inbound/imap-batches.ts, batchCountFor). */
export const PG_BATCH = 50;

/** PostgreSQL: node-postgres on one connection, a prepared INSERT per mail, a transaction every PG_BATCH mails. */
export async function pgStore(databaseUrl: string, batch = PG_BATCH): Promise<BareStore> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query(
    'CREATE TABLE mail (id bigserial PRIMARY KEY, uid bigint, message_id text, sender text, subject text, body text)',
  );
  let inBatch = 0;
  const insert = {
    name: 'bare-insert',
    text: 'INSERT INTO mail (uid, message_id, sender, subject, body) VALUES ($1, $2, $3, $4, $5)',
  };
  return {
    async insert(uid, p) {
      if (inBatch === 0) await client.query('BEGIN');
      await client.query({
        ...insert,
        values: [uid, p.messageId ?? null, p.from?.text ?? null, p.subject ?? null, p.text ?? ''],
      });
      if (++inBatch === batch) {
        await client.query('COMMIT');
        inBatch = 0;
      }
    },
    async flush() {
      if (inBatch > 0) await client.query('COMMIT');
      inBatch = 0;
    },
    close: () => client.end(),
  };
}

/** One pass over a folder: connect, one range FETCH, parse and store each mail, log out. Returns the mails stored. */
export async function readFolder(
  imap: ImapTarget,
  folder: string,
  store: BareStore,
): Promise<{ count: number; ms: number; cpu: ReturnType<ReturnType<typeof cpuMeter>> }> {
  // Timed from before connecting, as Mesa's side is (its poller connects, logs in and selects the folder inside its
  // timed span): both sides of the ratio count the same work around the mail.
  let count = 0;
  const t0 = performance.now();
  const meter = cpuMeter();
  const client = new ImapFlow({
    host: imap.host,
    port: imap.port,
    secure: false,
    auth: { user: imap.user, pass: imap.password },
    logger: false,
    disableAutoIdle: true,
  });
  await client.connect();
  const lock = await client.getMailboxLock(folder);
  try {
    for await (const msg of client.fetch('1:*', { uid: true, source: true })) {
      await store.insert(msg.uid, await simpleParser(msg.source!));
      count++;
    }
    await store.flush();
  } finally {
    lock.release();
  }
  const ms = performance.now() - t0;
  const cpu = meter();
  await client.logout();
  return { count, ms, cpu };
}

/** The ingest limit on `store`: the warm-up folder first (not timed), then the timed folder. */
export async function bareIngest(
  imap: ImapTarget,
  expected: number,
  warm: Warm | undefined,
  store: BareStore,
): Promise<PhaseResult> {
  try {
    let warmMs = 0;
    if (warm) {
      const w = await readFolder(imap, warm.folder, store);
      if (w.count !== warm.count)
        throw new Error(`bare: ${w.count} correos de calentamiento, se esperaban ${warm.count}`);
      warmMs = Math.round(w.ms);
    }
    const { count, ms, cpu } = await readFolder(imap, imap.folder, store);
    if (count !== expected) throw new Error(`bare: ${count} correos, se esperaban ${expected}`);
    return {
      ms,
      count,
      rate: (count / ms) * 1000,
      peakRssMb: peakRssMb(),
      extra: { cpu, warm: warm?.count ?? 0, warmMs },
    };
  } finally {
    await store.close();
  }
}

/** The floor for sending: a pooled nodemailer transport sending the same pre-rendered mail, `warm` times untimed first. */
export async function bareSend(
  smtp: { host: string; port: number },
  count: number,
  sample: { subject: string; html: string; text: string },
  poolSize = 3,
  warm = 0,
): Promise<PhaseResult> {
  // As many pooled connections as Mesa's dispatcher uses (SMTP_POOL_SIZE), opened the same way (TCP_NODELAY), so the
  // ratio compares the software.
  const transport = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: false,
    ignoreTLS: true,
    pool: true,
    getSocket: connectWithoutDelay,
    maxConnections: poolSize,
    maxMessages: Infinity,
  });
  const send = (from: number, n: number) =>
    Promise.all(
      Array.from({ length: n }, (_, k) => from + k).map((i) =>
        transport.sendMail({
          from: '"Soporte" <soporte@mesa.test>',
          to: `cliente${i}@cliente.com.co`,
          subject: `[Caso #${i + 1}] ${sample.subject}`,
          html: sample.html,
          text: sample.text,
          messageId: `<bare-${i}-${Date.now()}@mesa.test>`,
          headers: { 'Auto-Submitted': 'auto-replied', 'X-Mesa-Bench': 'bare' },
          textEncoding: 'quoted-printable', // as Mesa's dispatcher
        }),
      ),
    );
  await send(0, warm);
  const t0 = performance.now();
  const meter = cpuMeter();
  await send(warm, count);
  const ms = performance.now() - t0;
  const cpu = meter();
  transport.close();
  return { ms, count, rate: (count / ms) * 1000, peakRssMb: peakRssMb(), extra: { warm, cpu } };
}
