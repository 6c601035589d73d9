import type { Knex } from 'knex';
import type { MailboxConfig } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { MailboxName } from './explain.ts';

/** What the token lifecycle (./mailbox-tokens.ts) hands out, reports and needs. */

export interface AccessToken {
  token: string;
  version: number;
  expiresAt: number;
}

/** What the alert mail and the log get when a mailbox must be signed in again. */
export interface ReauthNotice {
  mailbox: MailboxName;
  user: string;
  code: string;
  explanation: string;
  at: number;
}

export interface MailboxTokensDeps {
  db: Knex;
  secretKey: string;
  mailboxes: readonly MailboxConfig[];
  logger: Logger;
  clock?: () => number;
  /** Called once per lost grant (and at most once a day per mailbox, across instances): the alert mail. */
  onReauth?: (notice: ReauthNotice) => Promise<void>;
  /** Watch interval while waiting for a sign-in (tests shorten it). */
  watchMs?: number;
}
