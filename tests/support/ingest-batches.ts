import { vi } from 'vitest';
import { onStatements } from '../../src/db/storage.ts';
import type { App } from '../../src/app.ts';
import type { InboundMail, MailSource } from '../../src/inbound/mail.ts';

/**
 * What the group-commit tests share: where a batch's mails come from, how many rows a table has, and how many
 * savepoints the batch ran (tests/integration/inbound/group-commit.test.ts says what a batch does,
 * tests/perf/inbound/group-commit.test.ts what a clean one costs).
 */

/** Mail number `uid` of the support mailbox's INBOX, as the IMAP poller hands it over. */
export const imapSource = (uid: number): MailSource => ({
  kind: 'imap',
  account: 'support',
  folder: 'INBOX',
  uidvalidity: 1,
  uid,
});

export const rowCount = async (a: App, table: string) => Number((await a.db(table).count({ n: '*' }))[0].n);

/** How many SAVEPOINT statements `a` ran since this was called. */
export function savepointsOf(a: App): () => number {
  let n = 0;
  onStatements(a.db, (q: { sql: string }) => {
    if (/^SAVEPOINT/i.test(q.sql)) n++;
  });
  return () => n;
}

/**
 * Every mail of `raws` parsed before the batch that takes them begins (IngestService.parseAhead), as when the parse
 * thread is ahead of the poller: the batch's reads ahead then cover all of them.
 */
export async function parsedAhead(a: App, raws: readonly Buffer[]): Promise<void> {
  const parse = vi.spyOn(a.ingest.parser, 'parse');
  a.ingest.parseAhead(raws);
  await Promise.all(parse.mock.results.map((r) => r.value as Promise<InboundMail>));
  parse.mockRestore();
}
