import type { MailSource } from './mail.ts';

/** Whether a source's key is its place in a mailbox (account, folder, UIDVALIDITY, UID) rather than its hash. */
export const keyedByUid = (source: MailSource): boolean =>
  source.kind === 'imap' || source.kind === 'graph' || source.kind === 'replay';

/** The configured mailbox a source was read from (IMAP or Graph), undefined for files, stdin and replays. */
export function mailboxOf(source: MailSource): 'support' | 'fallback' | undefined {
  return source.kind === 'imap' || source.kind === 'graph' ? source.account : undefined;
}

export function sourceKeyOf(source: MailSource, rawSha256: string): string {
  switch (source.kind) {
    case 'imap':
      return `imap:${source.account}:${source.folder}:${source.uidvalidity}:${source.uid}`;
    case 'graph':
      return `graph:${source.account}:${source.folder}:${source.id}`;
    case 'file':
      return `file:${rawSha256}`;
    case 'stdin':
      return `stdin:${rawSha256}`;
    case 'replay':
      return `replay:${source.quarantineId}`;
  }
}

/** Where a mail came from, as the ledger and the quarantine record it: `account:folder` and the UID for IMAP. */
export function whereFrom(source: MailSource): { mailbox: string; uidvalidity?: number; uid?: number } {
  if (source.kind === 'imap')
    return { mailbox: `${source.account}:${source.folder}`, uidvalidity: source.uidvalidity, uid: source.uid };
  if (source.kind === 'graph') return { mailbox: `${source.account}:${source.folder}` };
  return { mailbox: source.kind };
}
