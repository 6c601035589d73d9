import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApp, type App } from '../../../src/app.ts';
import type { Config } from '../../../src/config.ts';
import { silentLogger } from '../../../src/logger.ts';
import { testConfig, testEnv } from '../../support/app.ts';
import { spawnCli, type RunningCli } from '../../support/cli.ts';
import { startDovecot, type Dovecot } from '../../support/dovecot.ts';
import { waitFor } from '../../support/wait.ts';

/**
 * Crash safety (issue 2): `mesa start` works through a few hundred mails from a real Dovecot while the test
 * SIGKILLs it at random points, then restarts it. In the end every mail must have exactly one effect: one ledger
 * row per UID, one case per new-case mail, each follow-up stored once, re-deliveries recorded as duplicates, and
 * every mail moved to the processed folder (the move only ever follows the commit).
 */

// Enough mail for several batches (a batch takes up to 200 on SQLite: src/inbound/imap-batches.ts batchCountFor), so that
// the kills land in the middle of the work and not only between two runs.
const NEW_CASES = 600;
const FOLLOW_UPS = 210;
const REDELIVERIES = 90;
const TOTAL = NEW_CASES + FOLLOW_UPS + REDELIVERIES;
const KILLS = 6;

let dovecot: Dovecot;
let app: App;
let config: Config;

// A seeded generator: a failure can be reproduced with the same MESA_CRASH_SEED.
const seed = Number(process.env.MESA_CRASH_SEED ?? Date.now() % 100000);
let state = seed;
const rand = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;

function newCase(i: number): string {
  return [
    `From: Cliente ${i} <cliente${i}@empresa${i}.co>`,
    'To: soporte@mesa.test',
    `Subject: Problema número ${i}`,
    `Message-ID: <caso-${i}@empresa${i}.co>`,
    'Date: Mon, 23 Nov 2026 10:00:00 -0500',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    `El módulo ${i} no responde desde ayer.`,
    '',
  ].join('\r\n');
}

function followUp(j: number, of: number): string {
  return [
    `From: cliente${of}@empresa${of}.co`,
    'To: soporte@mesa.test',
    `Subject: RE: Problema número ${of}`,
    `Message-ID: <seguimiento-${j}@empresa${of}.co>`,
    `In-Reply-To: <caso-${of}@empresa${of}.co>`,
    `References: <caso-${of}@empresa${of}.co>`,
    'Date: Mon, 23 Nov 2026 11:00:00 -0500',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    `Seguimiento ${j}: sigue igual.`,
    '',
  ].join('\r\n');
}

beforeAll(async () => {
  dovecot = await startDovecot({ users: ['support'] });
  config = await testConfig({
    IMAP_HOST: dovecot.host,
    IMAP_PORT: String(dovecot.port),
    IMAP_SECURE: 'false',
    IMAP_USER: 'support',
    IMAP_PASSWORD: dovecot.users.support.password,
    IMAP_PROCESSED_FOLDER: 'Procesados',
    HTTP_PORT: '0',
  });
  app = await createApp(config, silentLogger);

  // The mailbox: new cases, follow-ups of earlier cases, and exact re-deliveries of earlier mails, interleaved.
  const raws: string[] = [];
  const opened: number[] = [];
  let nextCase = 1;
  let f = 0;
  let r = 0;
  while (raws.length < TOTAL) {
    const x = rand();
    if (nextCase <= NEW_CASES && (opened.length === 0 || x < 0.67 || (f >= FOLLOW_UPS && r >= REDELIVERIES))) {
      raws.push(newCase(nextCase));
      opened.push(nextCase++);
    } else if (f < FOLLOW_UPS && x < 0.9) {
      raws.push(followUp(++f, opened[Math.floor(rand() * opened.length)]));
    } else if (r < REDELIVERIES) {
      r++;
      raws.push(raws[Math.floor(rand() * raws.length)]);
    }
  }
  const c = await dovecot.client('support');
  for (const raw of raws) await c.append('INBOX', Buffer.from(raw));
  await c.logout();
}, 60_000);

afterAll(async () => {
  await app?.close();
  await dovecot?.stop();
});

function startMesa(): RunningCli {
  return spawnCli(['start'], {
    cwd: config.dataDir,
    keep: 8000,
    env: {
      ...testEnv(config.dataDir),
      DATABASE_URL: config.database.client === 'pg' ? config.database.url : config.database.filename!,
      IMAP_HOST: dovecot.host,
      IMAP_PORT: String(dovecot.port),
      IMAP_SECURE: 'false',
      IMAP_USER: 'support',
      IMAP_PASSWORD: dovecot.users.support.password,
      IMAP_PROCESSED_FOLDER: 'Procesados',
      HTTP_PORT: '0',
      LOG_LEVEL: 'warn',
    },
  });
}

const ledgerCount = async () => Number((await app.db('ingest_ledger').count({ n: '*' }))[0].n);

it(`gives every one of ${TOTAL} mails exactly one effect across ${KILLS} SIGKILLs of mesa start`, async () => {
  const t0 = Date.now();
  const progress: number[] = [];
  const timings: number[] = [];
  for (let k = 0; k < KILLS; k++) {
    const before = await ledgerCount();
    if (before >= TOTAL) break;
    const tRun = Date.now();
    const run = startMesa();
    if (k === 0) {
      // A kill before any mail: during start-up (migrations, IMAP login).
      await new Promise((r) => setTimeout(r, 200 + rand() * 600));
    } else {
      // A kill in the middle of the work: after a random number of further mails, plus a random few ms so it
      // lands anywhere in the fetch → ingest → commit → move → last_uid sequence.
      const target = Math.min(TOTAL - 1, before + 5 + Math.floor(rand() * 45));
      await waitFor(
        `ledger reaching ${target} (run ${k})\n${run.output()}`,
        async () => (await ledgerCount()) >= target,
        30_000,
        10,
      );
      await new Promise((r) => setTimeout(r, rand() * 15));
    }
    run.child.kill('SIGKILL');
    await run.exited;
    progress.push(await ledgerCount());
    timings.push(Date.now() - tRun);
  }

  const tLast = Date.now();
  const last = startMesa();
  await waitFor(
    `all ${TOTAL} mails in the ledger\n${last.output()}`,
    async () => (await ledgerCount()) >= TOTAL,
    40_000,
    20,
  );
  // This run has gone through the mailbox once (its poller is up, so are its signal handlers): the SIGTERM below is a
  // stop, not a kill during start-up, even when the runs before it left nothing to do.
  await waitFor(
    `the last run's round\n${last.output()}`,
    async () =>
      Number(
        (await app.db('mailbox_state').where({ name: 'support:INBOX' }).first('last_success_at'))?.last_success_at ?? 0,
      ) >= tLast,
    40_000,
    20,
  );
  await waitFor('the inbox emptied into Procesados', async () => {
    const c = await dovecot.client('support');
    try {
      return ((await c.status('INBOX', { messages: true })) || { messages: -1 }).messages === 0;
    } finally {
      await c.logout();
    }
  });
  const lastMs = Date.now() - tLast;
  last.child.kill('SIGTERM');
  expect(await last.exited).toBe(0);
  const seconds = (Date.now() - t0) / 1000;
  console.log(
    `crash test (${config.database.client}, seed ${seed}): ${TOTAL} mails, ${progress.length} SIGKILLs at ledger counts ${progress.join(', ')} (runs of ${timings.join(', ')} ms), final run ${TOTAL - progress.at(-1)!} mails in ${lastMs} ms, total ${seconds.toFixed(1)} s`,
  );

  // One ledger row per UID, UIDs 1..TOTAL of one UIDVALIDITY.
  const ledger = await app.db('ingest_ledger').select('uid', 'uidvalidity', 'outcome', 'reason', 'effect');
  expect(ledger.length).toBe(TOTAL);
  expect(new Set(ledger.map((l) => Number(l.uid))).size).toBe(TOTAL);
  expect(Math.max(...ledger.map((l) => Number(l.uid)))).toBe(TOTAL);
  expect(new Set(ledger.map((l) => String(l.uidvalidity))).size).toBe(1);
  const tally = (pred: (l: (typeof ledger)[number]) => boolean) => ledger.filter(pred).length;
  expect(tally((l) => l.outcome === 'accepted' && l.effect === 'new_case')).toBe(NEW_CASES);
  expect(tally((l) => l.outcome === 'accepted' && l.effect === 'follow_up')).toBe(FOLLOW_UPS);
  expect(tally((l) => l.outcome === 'ignored' && l.reason === 'duplicate')).toBe(REDELIVERIES);
  expect(Number((await app.db('quarantine').count({ n: '*' }))[0].n)).toBe(0);

  // Cases numbered 1..NEW_CASES without gaps; every mail's Message-ID stored exactly once.
  const numbers = (await app.db('tickets').select('number').orderBy('number')).map((t) => Number(t.number));
  expect(numbers).toEqual(Array.from({ length: NEW_CASES }, (_, i) => i + 1));
  const stored = (await app.db('messages').where({ source: 'mail' }).select('message_id')).map(
    (m) => m.message_id as string,
  );
  expect(stored.length).toBe(NEW_CASES + FOLLOW_UPS);
  expect(new Set(stored).size).toBe(stored.length);
  expect(stored.filter((id) => id.startsWith('seguimiento-')).length).toBe(FOLLOW_UPS);

  // Moved only after commit, and every one of them moved exactly once.
  const c = await dovecot.client('support');
  expect(((await c.status('Procesados', { messages: true })) || { messages: -1 }).messages).toBe(TOTAL);
  await c.logout();
}, 240_000);
