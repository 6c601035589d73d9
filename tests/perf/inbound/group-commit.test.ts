import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import type { MailSource } from '../../../src/inbound/mail.ts';
import { testApp } from '../../support/app.ts';
import { mail } from '../../support/mail.ts';
import { onStatements } from '../../../src/db/storage.ts';

/** What a clean poller batch costs (tests/integration/inbound/group-commit.test.ts has what it does): no savepoints. */
const imap = (uid: number): MailSource => ({ kind: 'imap', account: 'support', folder: 'INBOX', uidvalidity: 1, uid });
const count = async (a: App, table: string) => Number((await a.db(table).count({ n: '*' }))[0].n);

let app: App;
afterEach(async () => app?.close());

/** How many SAVEPOINT statements `a` ran since this was called. */
function savepointsOf(a: App): () => number {
  let n = 0;
  onStatements(a.db, (q: { sql: string }) => {
    if (/^SAVEPOINT/i.test(q.sql)) n++;
  });
  return () => n;
}
describe('group commit (ingestMany): statements', () => {
  it('runs a batch without a savepoint per mail when no mail fails', async () => {
    app = await testApp();
    const savepoints = savepointsOf(app);
    const mk = (i: number) =>
      mail(
        { From: `p${i}@org${i}.co`, To: 'soporte@mesa.test', Subject: `Caso ${i}`, 'Message-ID': `<s${i}@x>` },
        `texto ${i}`,
      );
    const results = await app.ingest.ingestMany([1, 2, 3].map((i) => ({ raw: mk(i), source: imap(i) })));
    expect(results.map((r) => [r.outcome, r.effect, r.ticketNumber])).toEqual([
      ['accepted', 'new_case', 1],
      ['accepted', 'new_case', 2],
      ['accepted', 'new_case', 3],
    ]);
    expect(savepoints()).toBe(0);
    expect(await count(app, 'ingest_ledger')).toBe(3);
  });
});
