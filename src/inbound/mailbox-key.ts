import type { MailboxConfig } from '../config.ts';

/** The mailbox_state row name of a configured mailbox, e.g. `support:INBOX`. Apart from the poller so that the web
 * server (/healthz) can name mailboxes without loading imapflow before it listens. */
export function stateKey(mb: Pick<MailboxConfig, 'name' | 'mailbox'>): string {
  return `${mb.name}:${mb.mailbox}`;
}
