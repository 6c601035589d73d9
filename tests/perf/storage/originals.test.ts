import { afterEach, describe, expect, it, vi } from 'vitest';
import type { App } from '../../../src/app.ts';
import { BlobStore } from '../../../src/storage/blobs.ts';
import { testApp } from '../../support/app.ts';
import { mail } from '../../support/mail.ts';
import { onStatements } from '../../../src/db/storage.ts';

/** How many INSERTs a batch's originals cost (tests/integration/storage/originals.test.ts has where they live). */
let app: App;
afterEach(async () => {
  vi.restoreAllMocks();
  await app?.close();
});

const rawRows = async (a: App) =>
  (await a.db('raw_sources').select('sha256', 'size')).map((r) => [r.sha256, Number(r.size)]);

describe('originals: statements', () => {
  it('a batch keeps the originals of the mails it keeps in one INSERT, not those of its ignored or failed mails', async () => {
    app = await testApp();
    app.cases.addNotifier({
      onCaseEvent: async (_trx, e) => {
        if (e.type === 'case_opened' && e.ticket.subject.includes('rompe')) throw new Error('fallo de prueba');
      },
    });
    const mk = (i: number, subject: string, extra: Record<string, string> = {}) =>
      mail(
        { From: `p${i}@org${i}.co`, To: 'soporte@mesa.test', Subject: subject, 'Message-ID': `<k${i}@x>`, ...extra },
        `texto ${i}`,
      );
    const raws = [
      mk(1, 'Uno'),
      mk(2, 'Fuera de la oficina', { 'Auto-Submitted': 'auto-replied' }),
      mk(3, 'Esto rompe'),
      mk(4, 'Cuatro'),
    ];
    const inserts: string[] = [];
    onStatements(app.db, (q: { sql: string }) => {
      if (/insert into "raw_sources"/.test(q.sql)) inserts.push(q.sql);
    });
    const results = await app.ingest.ingestMany(
      raws.map((raw, i) => ({
        raw,
        source: { kind: 'imap' as const, account: 'support', folder: 'INBOX', uidvalidity: 1, uid: i + 1 },
      })),
    );
    expect(results.map((r) => [r.outcome, r.effect ?? r.reason])).toEqual([
      ['accepted', 'new_case'],
      ['ignored', 'auto_reply'],
      ['rejected', 'internal_error'],
      ['accepted', 'new_case'],
    ]);
    expect(inserts).toHaveLength(1);
    // The broken mail's case rolled back, but the mail is quarantined with its original; the auto-reply keeps none.
    expect((await rawRows(app)).map(([sha]) => sha).sort()).toEqual(
      [raws[0], raws[2], raws[3]].map((r) => BlobStore.sha256(r)).sort(),
    );
  });
});
