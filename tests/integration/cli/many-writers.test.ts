import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase, type Knex } from '../../../src/db/knex.ts';
import { cliEnv, runCli, spawnCli, type CliResult } from '../../support/cli.ts';
import { startDovecot, type Dovecot } from '../../support/dovecot.ts';
import { waitFor } from '../../support/wait.ts';

/**
 * An MTA delivers in parallel (Postfix: up to 20 `mesa ingest -` at once by default) while `mesa start` reads its
 * mailbox and cron runs `mesa jobs`, all on one database. Every delivery must wait its turn for the database, never
 * be deferred (exit 75) for a lock another Mesa process holds for a few milliseconds; and every mail must have
 * exactly one effect. All real processes, on a new database that they all start on at once (each one migrates).
 */
const LANES = 16;
const PER_LANE = 3;
const FROM_IMAP = 8;
const JOB_RUNS = 3;

let dovecot: Dovecot;
beforeAll(async () => {
  dovecot = await startDovecot({ users: ['support'] });
});
afterAll(async () => {
  await dovecot?.stop();
});

const crlf = (lines: string[]) => `${lines.join('\r\n')}\r\n`;

/** Lane `lane`'s mail `i`: the first opens a case, the next ones answer it (threaded by In-Reply-To). */
const delivery = (lane: number, i: number) =>
  crlf([
    `From: Cliente ${lane} <cliente${lane}@empresa${lane % 5}.co>`,
    'To: soporte@mesa.test',
    `Subject: ${i === 0 ? '' : 'RE: '}Falla ${lane} en facturación`,
    `Message-ID: <lane${lane}-${i}@empresa${lane % 5}.co>`,
    ...(i === 0
      ? []
      : [`In-Reply-To: <lane${lane}-0@empresa${lane % 5}.co>`, `References: <lane${lane}-0@empresa${lane % 5}.co>`]),
    'Date: Mon, 23 Nov 2026 10:00:00 -0500',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    `Mensaje ${i + 1} del cliente ${lane}: la factura no sale.`,
  ]);

const mailboxMail = (n: number) =>
  crlf([
    `From: Buzón ${n} <buzon${n}@otra.co>`,
    'To: soporte@mesa.test',
    `Subject: Consulta ${n} por el buzón`,
    `Message-ID: <imap${n}@otra.co>`,
    'Date: Mon, 23 Nov 2026 10:00:00 -0500',
    'Content-Type: text/plain; charset=utf-8',
    '',
    `Consulta ${n}.`,
  ]);

it(`${LANES} concurrent \`mesa ingest -\` beside \`mesa start\` on Dovecot and \`mesa jobs\`: every delivery exits 0, every mail is one effect`, async () => {
  const { env, config } = await cliEnv({
    IMAP_HOST: dovecot.host,
    IMAP_PORT: String(dovecot.port),
    IMAP_SECURE: 'false',
    IMAP_USER: 'support',
    IMAP_PASSWORD: dovecot.users.support.password,
    IMAP_POLL_SECONDS: '1',
    HTTP_PORT: '0',
    LOG_LEVEL: 'info',
  });
  for (let n = 0; n < FROM_IMAP / 2; n++) await dovecot.append('support', mailboxMail(n));
  const start = spawnCli(['start'], { env, keep: 200_000 });
  let db: Knex | undefined;
  try {
    // Everyone at once on the new database: `mesa start`, the lanes' first deliveries, the first `mesa jobs`.
    let appended = FROM_IMAP / 2;
    const lanes = Array.from({ length: LANES }, async (_, lane) => {
      const results: CliResult[] = [];
      for (let i = 0; i < PER_LANE; i++) {
        results.push(await runCli(['ingest', '-'], { env, stdin: delivery(lane, i) }));
        // More mail reaches the mailbox while the deliveries go on.
        if (i === 0 && appended < FROM_IMAP) await dovecot.append('support', mailboxMail(appended++));
      }
      return results;
    });
    const jobs = (async () => {
      const runs: CliResult[] = [];
      // Three days on: the SLA lights of the cases being written change, in transactions of their own.
      for (let k = 0; k < JOB_RUNS; k++)
        runs.push(
          await runCli(['jobs', '--json', '--now', new Date(Date.now() + (k + 1) * 86_400_000).toISOString()], { env }),
        );
      return runs;
    })();
    const delivered = await Promise.all(lanes);
    const jobRuns = await jobs;

    for (const [lane, results] of delivered.entries()) {
      for (const [i, r] of results.entries()) {
        expect(r.code, `lane ${lane}, mail ${i}: ${r.stdout}${r.stderr.slice(-2000)}`).toBe(0);
        expect(r.stdout.trim()).toMatch(i === 0 ? /^stdin: caso nuevo #\d+$/ : /^stdin: seguimiento del caso #\d+$/);
      }
      // Each lane's answers landed on the case its first mail opened.
      const numbers = results.map((r) => r.stdout.match(/#(\d+)/)![1]);
      expect(new Set(numbers).size, `lane ${lane}: ${numbers}`).toBe(1);
    }
    for (const r of jobRuns) expect(r.code, r.stdout + r.stderr.slice(-2000)).toBe(0);

    db = openDatabase(config.database);
    const count = async (q: Knex.QueryBuilder) =>
      Number(((await q.count({ n: '*' })) as Array<{ n: number | string }>)[0].n);
    await waitFor(
      `mesa start takes the mailbox's ${FROM_IMAP} mails\n${start.output().slice(-3000)}`,
      async () => (await count(db!('ingest_ledger').where('mailbox', 'like', 'support:%'))) === FROM_IMAP,
      40_000,
      100,
    );

    const total = LANES * PER_LANE + FROM_IMAP;
    const ledger = await db('ingest_ledger').select('outcome', 'effect', 'source_key');
    expect(ledger).toHaveLength(total);
    expect(ledger.filter((r) => r.outcome === 'accepted')).toHaveLength(total);
    expect(ledger.filter((r) => r.effect === 'new_case')).toHaveLength(LANES + FROM_IMAP);
    expect(ledger.filter((r) => r.effect === 'follow_up')).toHaveLength(LANES * (PER_LANE - 1));
    expect(await count(db('tickets'))).toBe(LANES + FROM_IMAP);
    expect(await count(db('messages').where({ role: 'customer' }))).toBe(total);
    expect(await count(db('quarantine'))).toBe(0);
    // One case per lane, holding that lane's mails and nobody else's.
    const perCase = await db('messages')
      .where({ role: 'customer' })
      .groupBy('ticket_id')
      .select('ticket_id')
      .count({ n: '*' });
    expect(perCase.map((r) => Number(r.n)).sort()).toEqual(
      [...Array(FROM_IMAP).fill(1), ...Array(LANES).fill(PER_LANE)].sort(),
    );
  } finally {
    await db?.destroy();
    start.child.kill('SIGTERM');
  }
  expect(await start.exited).toBe(0);
  // Nothing was deferred inside `mesa start` either (its poller would have offered the mail again).
  expect(start.output()).not.toMatch(/database is locked|SQLITE_BUSY|correo pendiente/);
}, 180_000);

it('one message handed to 8 `mesa ingest -` at once (two aliases to one pipe): one case, the others told it was there', async () => {
  const { env, config } = await cliEnv();
  expect((await runCli(['migrate'], { env })).code).toBe(0);
  const mail = delivery(99, 0);
  const runs = await Promise.all(Array.from({ length: 8 }, () => runCli(['ingest', '-'], { env, stdin: mail })));
  // Before, every delivery but the first was deferred (75) with the database's unique-key error as its reason.
  for (const r of runs) expect(r.code, r.stdout + r.stderr.slice(-1000)).toBe(0);
  // Nor is a mail another process recorded first a bug of this one: no «fallo inesperado» for a quarantine never made.
  for (const r of runs) expect(r.stderr).not.toMatch(/fallo inesperado|internal_error/);
  expect(runs.filter((r) => /^stdin: caso nuevo #1\n/.test(r.stdout))).toHaveLength(1);
  expect(runs.filter((r) => /^stdin: caso nuevo #1 \[ya procesado antes\]\n/.test(r.stdout))).toHaveLength(7);
  const db = openDatabase(config.database);
  try {
    expect(Number((await db('tickets').count({ n: '*' }))[0].n)).toBe(1);
    expect(Number((await db('ingest_ledger').count({ n: '*' }))[0].n)).toBe(1);
    expect(Number((await db('quarantine').count({ n: '*' }))[0].n)).toBe(0);
  } finally {
    await db.destroy();
  }
}, 60_000);
