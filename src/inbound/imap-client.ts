import { ImapFlow } from 'imapflow';
import type { MailboxConfig } from '../config.ts';
import { MesaError } from '../errors.ts';
import type { Logger } from '../logger.ts';

/**
 * Builds the imapflow client for one configured mailbox. imapflow logs every connection event at `info` and
 * every command at `debug`; handed our logger at the root's level that would flood the log, so it gets a child
 * that never logs below `warn` (but stays silent when the root is silent).
 */
export function createImapClient(mb: MailboxConfig, logger: Logger, accessToken?: string): ImapFlow {
  const levels = logger.levels.values;
  const level = (levels[logger.level] ?? 0) > levels.warn ? logger.level : 'warn';
  return new ImapFlow({
    host: mb.host,
    port: mb.port,
    secure: mb.secure,
    // OAuth2 (Gmail, Microsoft 365): imapflow speaks XOAUTH2/OAUTHBEARER when given an access token.
    // With IMAP_AUTH=oauth2 the token comes from the store of src/mailboxes/ (refreshed there), not from the config.
    auth:
      (accessToken ?? mb.accessToken)
        ? { user: mb.user, accessToken: accessToken ?? mb.accessToken }
        : { user: mb.user, pass: mb.password ?? '' },
    tls: { rejectUnauthorized: mb.rejectUnauthorized },
    logger: logger.child({ component: 'imapflow', mailbox: mb.name }, { level }) as never,
    // We start IDLE ourselves once a round is done (see MailboxPoller.waitForNews): auto-IDLE only begins after
    // 15 s of quiet, and a mail that arrives in between would then wait for the next poll.
    disableAutoIdle: true,
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    clientInfo: { name: 'Mesa' },
  });
}

/** Turns what imapflow throws into the catalogue's codes, for the log and mailbox_state.last_error. */
export function describeImapError(err: unknown): MesaError {
  const e = err as { authenticationFailed?: boolean; code?: string; responseText?: string; message?: string };
  if (e?.authenticationFailed) return new MesaError('IMAP_AUTH_FAILED', e.responseText ?? e.message, { cause: err });
  if (err instanceof MesaError) return err;
  const text = e?.responseText ?? e?.message;
  // Node's socket errors say their code already («connect ECONNREFUSED 127.0.0.1:993»): not twice.
  const code = e?.code && !text?.includes(e.code) ? e.code : undefined;
  return new MesaError('IMAP_UNAVAILABLE', [code, text].filter(Boolean).join(' ') || String(err), { cause: err });
}
