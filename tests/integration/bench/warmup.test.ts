import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPgDatabase, onPostgres } from '../../support/app.ts';
import { startDovecot, type Dovecot } from '../../support/dovecot.ts';
import { generateMails } from '../../bench/corpus.ts';
import { bareIngest, bareSend, pgStore, sqliteStore, type BareStore } from '../../bench/limits.ts';
import { MESA_ENV, mesaIngest, mesaNotify, type ImapTarget } from '../../bench/phases.ts';
import { startBenchSink, type BenchSink } from '../../bench/sink.ts';

/**
 * Both sides of a limit are warmed alike (`npm run bench -- --warm W`): each handles the warm-up mails first, through
 * the same code and connections, and only the mails after them are counted and timed.
 */
let dovecot: Dovecot;
let sink: BenchSink;
const WARM = 60;
const N = 70;
const imap = (): ImapTarget => ({
  host: dovecot.host,
  port: dovecot.port,
  user: 'support',
  password: dovecot.users.support.password,
  folder: 'timed',
});
const warm = { folder: 'warm', count: WARM };
let databases = 0;
const freshDb = () => freshPgDatabase(`mesa_bench_warm_${process.pid}_${++databases}`);

beforeAll(async () => {
  dovecot = await startDovecot({ users: ['support'] });
  sink = await startBenchSink();
  const mails = generateMails(WARM + N, { seed: 'warmup' }).map((m) => m.raw);
  const c = await dovecot.client('support');
  for (const [folder, raws] of [
    ['warm', mails.slice(0, WARM)],
    ['timed', mails.slice(WARM)],
  ] as const) {
    await c.mailboxCreate(folder);
    for (const raw of raws) await c.append(folder, raw);
  }
  await c.logout();
});
afterAll(async () => {
  await sink?.stop();
  await dovecot?.stop();
});

/** The store the limit of this database writes to, counting what reaches it. */
function counting(store: BareStore): { store: BareStore; inserted: () => number } {
  let n = 0;
  return {
    store: {
      ...store,
      insert: (uid, parsed) => {
        n++;
        return store.insert(uid, parsed);
      },
    },
    inserted: () => n,
  };
}

describe('bench warm-up', () => {
  it(`the bare ${onPostgres ? 'PostgreSQL' : 'SQLite'} limit stores the warm-up mails and then the timed ones, and counts only these`, async () => {
    const url = onPostgres ? await freshDb() : undefined;
    const { store, inserted } = counting(url ? await pgStore(url) : sqliteStore());
    const result = await bareIngest(imap(), N, warm, store);
    expect(inserted()).toBe(WARM + N);
    expect(result.count).toBe(N);
    expect(result.extra).toMatchObject({ warm: WARM });
    expect(result.rate).toBeCloseTo((N / result.ms) * 1000, 6);
    if (url) {
      // One transaction per 50 mails as Mesa batches on PostgreSQL, each folder's rest committed at its end.
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const { rows } = await client.query('SELECT count(*)::int AS n FROM mail GROUP BY xmin::text ORDER BY min(id)');
      await client.end();
      expect(rows.map((r) => r.n)).toEqual([50, 10, 50, 20]);
    }
  });

  it('Mesa ingests the warm-up folder through its poller first, into the same database, and times only the rest', async () => {
    const result = await mesaIngest(
      imap(),
      N,
      { databaseUrl: onPostgres ? await freshDb() : undefined, env: MESA_ENV },
      0,
      warm,
    );
    expect(result.count).toBe(N);
    expect(result.extra).toMatchObject({ warm: WARM });
    expect(Number(result.extra!.warmMs)).toBeGreaterThan(0);
    // The ledger rows of the timed folder alone: every one of its mails, each recorded once.
    const outcomes = Object.values(result.extra!.outcomes as Record<string, number>);
    expect(outcomes.reduce((a, b) => a + b, 0)).toBe(N);
  });

  it('both sides of the notify pair send the warm-up mails first and count only the timed ones', async () => {
    sink.reset();
    const mesa = await mesaNotify(
      { host: sink.host, port: sink.port },
      4,
      { databaseUrl: onPostgres ? await freshDb() : undefined, env: MESA_ENV },
      3,
    );
    expect(mesa.count).toBe(4);
    expect(mesa.extra).toMatchObject({ warm: 3 });
    expect(sink.mails).toHaveLength(7);
    expect(new Set(sink.mails.map((m) => m.inReplyTo)).size).toBe(7);
    // The timed confirmations were held back until the warm-up ones had gone: those came first.
    const customers = generateMails(21, { seed: 'notify' })
      .filter((m) => m.kind.startsWith('new'))
      .slice(0, 3);
    expect(
      sink.mails
        .slice(0, 3)
        .map((m) => m.inReplyTo)
        .sort(),
    ).toEqual(customers.map((m) => `<${m.messageId}>`).sort());
    sink.reset();
    const sample = mesa.extra!.sample as { subject: string; html: string; text: string };
    const bare = await bareSend({ host: sink.host, port: sink.port }, 4, sample, 2, 3);
    expect(bare.count).toBe(4);
    expect(sink.mails.map((m) => m.to[0])).toEqual(
      expect.arrayContaining(Array.from({ length: 7 }, (_, i) => `cliente${i}@cliente.com.co`)),
    );
  });
});
