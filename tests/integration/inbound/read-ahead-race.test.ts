import { afterEach, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../../src/app.ts';
import { onStatements } from '../../../src/db/storage.ts';
import { silentLogger } from '../../../src/logger.ts';
import type { MailSource } from '../../../src/inbound/mail.ts';
import { BUILT_PARSE_WORKER } from '../../support/built.ts';
import { onPostgres, testApp } from '../../support/app.ts';
import { rowCount } from '../../support/ingest-batches.ts';
import { mail } from '../../support/mail.ts';

/**
 * The ledger's read-ahead (src/db/repos/ledger.ts, lookAheadDeliveries) reads a batch's earlier deliveries once,
 * before its mails' turns: what another instance commits after that read is not in it. Two instances get the same
 * mails at once (the same customer mail delivered to two mailboxes, each read by its own instance): the unique
 * effect claim must still give each mail one effect, and the instance that lost the race records a duplicate.
 * PostgreSQL, where instances write at the same time (on SQLite one writer waits for the other's commit).
 */
const apps: App[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});

const MAILS = 24;
const raws = Array.from({ length: MAILS }, (_, i) =>
  mail(
    {
      From: `Cliente ${i} <cliente${i}@empresa${i}.co>`,
      To: 'soporte@mesa.test, acceso@mesa.test',
      Subject: `No puedo facturar ${i}`,
      'Message-ID': `<carrera-${i}@empresa${i}.co>`,
    },
    `El módulo ${i} no guarda la factura.`,
  ),
);
const from =
  (account: 'support' | 'fallback') =>
  (uid: number): MailSource => ({
    kind: 'imap',
    account,
    folder: 'INBOX',
    uidvalidity: 1,
    uid,
  });

describe.runIf(onPostgres)('two instances reading ahead over the same mails', () => {
  it('gives each mail one effect: the instance that loses the race records a duplicate, nothing doubles', async () => {
    const first = await testApp();
    apps.push(first);
    const second = await createApp(first.config, silentLogger, { parseWorkerUrl: BUILT_PARSE_WORKER });
    apps.push(second);
    let readsAhead = 0;
    for (const a of [first, second])
      onStatements(a.db, (s) => {
        if (/from "ingest_ledger" where "content_hash" in/.test(s.sql)) readsAhead++;
      });
    const batch = (account: 'support' | 'fallback') =>
      raws.slice(0, 12).map((raw, i) => ({ raw, source: from(account)(i + 1) }));
    const rest = (account: 'support' | 'fallback') =>
      raws.slice(12).map((raw, i) => ({ raw, source: from(account)(i + 13) }));
    // Each instance takes its mailbox's mails in two batches; the two run at the same time.
    const [a, b] = await Promise.all([
      first.ingest
        .ingestMany(batch('support'))
        .then(async (r) => [...r, ...(await first.ingest.ingestMany(rest('support')))]),
      second.ingest
        .ingestMany(batch('fallback'))
        .then(async (r) => [...r, ...(await second.ingest.ingestMany(rest('fallback')))]),
    ]);
    expect(readsAhead).toBeGreaterThan(0);
    const effects = [...a, ...b].filter((r) => r.outcome === 'accepted');
    const duplicates = [...a, ...b].filter((r) => r.outcome === 'ignored' && r.reason === 'duplicate');
    expect(effects).toHaveLength(MAILS);
    expect(duplicates).toHaveLength(MAILS);
    expect(new Set(effects.map((r) => r.ticketNumber)).size).toBe(MAILS);
    expect(await rowCount(first, 'tickets')).toBe(MAILS);
    expect(await rowCount(first, 'messages')).toBe(MAILS);
    expect(await rowCount(first, 'ingest_ledger')).toBe(2 * MAILS);
    expect(await rowCount(first, 'quarantine')).toBe(0);
  });
});
