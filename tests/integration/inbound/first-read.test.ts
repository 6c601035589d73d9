import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { getMailboxState } from '../../../src/db/repos/mailbox-state.ts';
import { startPollers } from '../../../src/inbound/readers.ts';
import { listCases } from '../../../src/services/case-view.ts';
import { testApp, testEnv } from '../../support/app.ts';
import { runCli } from '../../support/cli.ts';
import { startDovecot, type Dovecot } from '../../support/dovecot.ts';
import { mail } from '../../support/mail.ts';
import { waitFor } from '../../support/wait.ts';
import { supportMailboxEnv } from '../../support/worlds.ts';

/**
 * The first read of a mailbox that already holds mail (MAILBOX_BACKLOG_DAYS), against a real Dovecot: what arrived
 * before the days taken stays in the folder and opens no case, mails no one; what arrived within them is taken; and
 * after the first read every new mail is taken, whatever its dates. Arrival is the server's INTERNALDATE (set here by
 * APPEND); the Date field of every mail says the same recent day, so only the server's time can tell them apart.
 */
let dovecot: Dovecot;
let app: App | undefined;
let pollers: ReturnType<typeof startPollers> | undefined;

beforeAll(async () => {
  dovecot = await startDovecot();
});
afterAll(async () => {
  await dovecot?.stop();
});
afterEach(async () => {
  await pollers?.stop();
  pollers = undefined;
  await app?.close();
  app = undefined;
});

const DAY = 86_400_000;
let seq = 0;
function customerMail(from: string, subject: string): string {
  const headers = {
    From: from,
    To: 'soporte@mesa.test',
    Subject: subject,
    'Message-ID': `<first-read-${++seq}.${Date.now()}@cliente.co>`,
    Date: new Date().toUTCString(),
  };
  return mail(headers, `Buenos días, ${subject.toLowerCase()}.\r\n`).toString('utf8');
}

async function freshFolder(): Promise<string> {
  const folder = `FR${++seq}`;
  const c = await dovecot.client('support');
  await c.mailboxCreate(folder).catch(() => undefined);
  await c.mailboxCreate(`${folder}-hechos`).catch(() => undefined);
  await c.logout();
  return folder;
}

async function uidsIn(folder: string): Promise<number[]> {
  const c = await dovecot.client('support');
  try {
    const box = await c.mailboxOpen(folder, { readOnly: true });
    return box.exists ? (await c.search({ all: true }, { uid: true })) || [] : [];
  } finally {
    await c.logout();
  }
}

/** The environment of `app`, for the real `mesa` executable on the same data. */
function cliEnvOf(a: App): Record<string, string> {
  return {
    ...testEnv(a.config.dataDir, imapEnv(a.config.mailboxes[0].mailbox)),
    DATABASE_URL: a.config.database.client === 'pg' ? a.config.database.url : a.config.database.filename,
  } as Record<string, string>;
}

function imapEnv(folder: string): Record<string, string> {
  return {
    ...supportMailboxEnv(dovecot),
    IMAP_MAILBOX: folder,
    IMAP_PROCESSED_FOLDER: `${folder}-hechos`,
    IMAP_POLL_SECONDS: '120',
  };
}

async function start(folder: string, extra: Record<string, string> = {}) {
  app = await testApp({ ...imapEnv(folder), ...extra });
  pollers = startPollers(app, app.config.mailboxes, { backoffInitialMs: 100, backoffMaxMs: 800 });
  return app;
}

const firstRoundDone = (a: App, folder: string) =>
  waitFor('the first read', async () => {
    const state = await getMailboxState(a.db, `support:${folder}`);
    return state?.lastSuccessAt ? state : undefined;
  });

/** Everyone the outbox has mail for. */
async function recipients(a: App): Promise<string[]> {
  return (await a.db('outbox').select('recipient')).map((r: { recipient: string }) => r.recipient).sort();
}

describe('the first read of a mailbox that already holds mail', () => {
  it('takes only the mail of the last 14 days: the older stays in the folder, opens no case and mails no one', async () => {
    const folder = await freshFolder();
    const old = new Date(Date.now() - 40 * DAY);
    const oldUids = [
      await dovecot.append('support', customerMail('rosa@antigua.co', 'Factura de agosto'), folder, old),
      await dovecot.append('support', customerMail('luis@antigua.co', 'Clave olvidada'), folder, old),
      // An hour before the cut, most often on the cut's own day: SEARCH SINCE finds it, its INTERNALDATE leaves it.
      await dovecot.append(
        'support',
        customerMail('eva@antigua.co', 'Casi'),
        folder,
        new Date(Date.now() - 14 * DAY - 3_600_000),
      ),
    ];
    const recent = new Date(Date.now() - 3 * DAY);
    await dovecot.append('support', customerMail('ana@cliente.co', 'No carga el extracto'), folder, recent);
    await dovecot.append('support', customerMail('beto@cliente.co', 'Error al exportar'), folder);

    const a = await start(folder);
    const state = await firstRoundDone(a, folder);
    const cases = await listCases(a.db);
    expect(cases.map((c) => c.subject).sort()).toEqual(['Error al exportar', 'No carga el extracto']);
    expect(state.lastUid).toBe(5);
    const mailed = await recipients(a);
    expect(mailed).toContain('ana@cliente.co');
    expect(mailed.filter((to) => to.endsWith('@antigua.co'))).toEqual([]);
    // The old mail is where it was: not read into the ledger, not moved to the processed folder.
    expect(await uidsIn(folder)).toEqual(oldUids);
    expect(Number((await a.db('ingest_ledger').count({ n: '*' }))[0].n)).toBe(2);
    expect(state.backlogBefore).toBeLessThanOrEqual(Date.now() - 14 * DAY);
    // The operator sees where the first read started.
    const status = await runCli(['mailbox', 'status'], { env: cliEnvOf(a) });
    const cut = new Date(state.backlogBefore!)
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, ' UTC');
    expect(status.stdout).toContain(`primera lectura: lo llegado antes de ${cut} quedó en el buzón sin casos`);

    // After the first read, a new mail is taken even if its server date is old (moved in from an archive).
    await dovecot.append('support', customerMail('rosa@antigua.co', 'Vuelvo a escribir'), folder, old);
    await waitFor('the mail after the first read', async () => (await listCases(a.db)).length === 3, 10_000);
    expect((await listCases(a.db)).map((c) => c.subject)).toContain('Vuelvo a escribir');
  });

  it('looks past a day of mail that arrived before the cut, a FETCH at a time, to the first after it', async () => {
    const folder = await freshFolder();
    // 250 mails a minute before the cut: on the cut's own day (but in the minute after midnight), so SEARCH SINCE
    // lists them all and the first FETCH of INTERNALDATEs does not reach the mail after the cut.
    const justBefore = new Date(Date.now() - 14 * DAY - 60_000);
    const c = await dovecot.client('support');
    for (let i = 0; i < 250; i++)
      await c.append(folder, Buffer.from(customerMail(`p${i}@antigua.co`, `Pedido ${i}`)), [], justBefore);
    await c.logout();
    await dovecot.append('support', customerMail('ana@cliente.co', 'El de hoy'), folder);
    const a = await start(folder);
    const state = await firstRoundDone(a, folder);
    expect(state.lastUid).toBe(251);
    expect((await listCases(a.db)).map((c) => c.subject)).toEqual(['El de hoy']);
  });

  it('with MAILBOX_BACKLOG_DAYS=0 takes none of the mail already there, then every new one', async () => {
    const folder = await freshFolder();
    await dovecot.append('support', customerMail('ana@cliente.co', 'Ya estaba'), folder);
    const a = await start(folder, { MAILBOX_BACKLOG_DAYS: '0' });
    const state = await firstRoundDone(a, folder);
    expect(state.lastUid).toBe(1);
    expect(await listCases(a.db)).toEqual([]);
    await dovecot.append('support', customerMail('ana@cliente.co', 'Llegó después'), folder);
    await waitFor('the new mail', async () => (await listCases(a.db)).length === 1, 10_000);
    expect((await listCases(a.db))[0].subject).toBe('Llegó después');
  });

  it('with MAILBOX_BACKLOG_DAYS=all takes every mail, however old', async () => {
    const folder = await freshFolder();
    const old = new Date(Date.now() - 400 * DAY);
    await dovecot.append('support', customerMail('rosa@antigua.co', 'Del año pasado'), folder, old);
    await dovecot.append('support', customerMail('ana@cliente.co', 'De hoy'), folder);
    const a = await start(folder, { MAILBOX_BACKLOG_DAYS: 'all' });
    await firstRoundDone(a, folder);
    expect((await listCases(a.db)).map((c) => c.subject).sort()).toEqual(['De hoy', 'Del año pasado']);
  });

  it('leaves a mailbox whose first read it has done as it is when the days change', async () => {
    const folder = await freshFolder();
    const a = await start(folder, { MAILBOX_BACKLOG_DAYS: '0' });
    await firstRoundDone(a, folder);
    await pollers!.stop();
    pollers = undefined;
    await a.close();
    app = undefined;
    // Mail that arrives while Mesa is stopped is new mail, not backlog, whatever the key says at the next start.
    await dovecot.append('support', customerMail('ana@cliente.co', 'Mientras estaba parado'), folder);
    const same = {
      DATA_DIR: a.config.dataDir,
      ...(a.config.database.client === 'pg' ? { DATABASE_URL: a.config.database.url } : {}),
    };
    const b = await start(folder, { MAILBOX_BACKLOG_DAYS: '0', ...same });
    await waitFor('the mail of the stop', async () => (await listCases(b.db)).length === 1, 10_000);
  });
});
