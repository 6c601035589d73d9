import type { MailboxConfig } from '../config.ts';
import type { MailboxName } from '../mailboxes/explain.ts';

/** What the poller needs from the token store of src/mailboxes/ (App.tokens). */
export interface MailboxTokenSource {
  manages(mailbox: MailboxName): boolean;
  accessToken(mailbox: MailboxName, opts?: { refused?: string }): Promise<{ token: string; version: number }>;
  onChange(mailbox: MailboxName, fn: (version: number) => void): () => void;
  keepFresh(mailbox: MailboxName, signal: AbortSignal): Promise<void>;
}

/**
 * The IMAP side of an OAuth2 mailbox: the token to log in with, and whether a newer one has appeared since (then the
 * poller finishes the batch in hand, logs out and connects again with it, before the old one expires). A token the
 * server refused is handed back as such, so the store renews it instead of giving it out again.
 */
export class ImapCredentials {
  /** A new token version was stored since this connection logged in. */
  changed = false;
  private current?: string;
  private refused?: string;
  private readonly unsubscribe?: () => void;

  constructor(
    private readonly mb: MailboxConfig,
    private readonly tokens: MailboxTokenSource | undefined,
    onChange: () => void,
  ) {
    if (this.oauth) {
      this.unsubscribe = tokens!.onChange(mb.name, () => {
        this.changed = true;
        onChange();
      });
    }
  }

  get oauth(): boolean {
    return this.mb.credential.kind === 'oauth2' && this.tokens?.manages(this.mb.name) === true;
  }

  /** The access token for the next login (undefined for a password mailbox). Throws MAILBOX_SIGN_IN_REQUIRED. */
  async forConnect(): Promise<string | undefined> {
    if (!this.oauth) return undefined;
    this.changed = false;
    const t = await this.tokens!.accessToken(this.mb.name, this.refused ? { refused: this.refused } : {});
    this.refused = undefined;
    this.current = t.token;
    return t.token;
  }

  /** The server refused the login: the token may have been revoked early. */
  loginRefused(): void {
    if (this.oauth) this.refused = this.current;
  }

  /** Refreshes before expiry while this process holds the mailbox's lease (`signal` aborts when it does not). */
  keepFresh(signal: AbortSignal): void {
    if (this.oauth) void this.tokens!.keepFresh(this.mb.name, signal);
  }

  dispose(): void {
    this.unsubscribe?.();
  }
}
