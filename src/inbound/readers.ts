import type { MailboxConfig } from '../config.ts';
import { GraphMailboxReader } from './graph-poller.ts';
import type { PollerDeps, PollerOptions } from './mailbox-reader.ts';
import { MailboxPoller } from './poller.ts';

/** All configured mailboxes, each in its own loop: IMAP (poller.ts) or Microsoft Graph (graph-poller.ts) as its
 * transport says. A mailbox's failure stays in its loop. */
export function startPollers(deps: PollerDeps, mailboxes: readonly MailboxConfig[], opts: PollerOptions = {}) {
  const pollers = mailboxes.map((mb) =>
    (mb.transport === 'graph' ? new GraphMailboxReader(deps, mb, opts) : new MailboxPoller(deps, mb, opts)).start(),
  );
  return {
    pollers,
    async stop() {
      await Promise.all(pollers.map((p) => p.stop()));
    },
  };
}
