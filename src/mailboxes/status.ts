import type { Knex } from 'knex';
import type { Config, MailboxConfig } from '../config.ts';
import { mailboxLeaseName } from '../db/leases.ts';
import { listLeases, type LeaseRow } from '../db/repos/leases.ts';
import { listMailboxStates, stateKey, type MailboxState } from '../db/repos/mailbox-state.ts';
import type { MailboxTokens } from './mailbox-tokens.ts';

/** One mailbox's credential as `mesa mailbox status`, /healthz and /metrics show it. Never a token. */
export interface MailboxStatus {
  mailbox: string;
  user: string;
  /** `password`, `static_token`, or `oauth2 <provider> <flow>`. */
  kind: string;
  /** How the mailbox is read and written: `imap` (IMAP/SMTP) or `graph` (Microsoft Graph). */
  transport: 'imap' | 'graph';
  state: string;
  expiresAt?: string;
  /** OAUTH_CLIENT_SECRET_EXPIRES, when configured. */
  clientSecretExpiresAt?: string;
  lastErrorCode?: string;
  lastError?: string;
}

export async function mailboxStatuses(deps: {
  config: Config;
  db: Knex;
  tokens: MailboxTokens;
}): Promise<MailboxStatus[]> {
  const rows = new Map((await deps.tokens.states()).map((r) => [r.mailbox, r]));
  return deps.config.mailboxes.map((mb) => {
    const base = { mailbox: mb.name, user: mb.user, kind: kindOf(mb), transport: mb.transport ?? 'imap' };
    if (mb.credential.kind !== 'oauth2') return { ...base, state: 'ok' };
    const r = rows.get(mb.name);
    return {
      ...base,
      state: r?.state ?? 'needs_login',
      expiresAt: r?.expiresAt ? new Date(r.expiresAt).toISOString() : undefined,
      clientSecretExpiresAt: mb.credential.clientSecretExpiresAt
        ? new Date(mb.credential.clientSecretExpiresAt).toISOString()
        : undefined,
      lastErrorCode: r?.lastErrorCode,
      lastError: r?.lastError,
    };
  });
}

function kindOf(mb: MailboxConfig): string {
  const c = mb.credential;
  return c.kind === 'oauth2' ? `oauth2 ${c.provider} ${c.flow}` : c.kind;
}

/** What the readers of `mesa start` last recorded of each configured mailbox (its last good read, its last error),
 * by mailbox name: what /healthz and `mesa mailbox status` report beside the credential. */
export async function lastReads(deps: { config: Config; db: Knex }): Promise<Map<string, MailboxState | undefined>> {
  const states = new Map((await listMailboxStates(deps.db)).map((s) => [s.name, s]));
  return new Map(deps.config.mailboxes.map((mb) => [mb.name, states.get(stateKey(mb))]));
}

/** Which `mesa start` reads each configured mailbox now (its lease: host:pid, last renewal), by mailbox name. */
export async function mailboxReaders(deps: { config: Config; db: Knex }): Promise<Map<string, LeaseRow | undefined>> {
  const leases = new Map((await listLeases(deps.db)).map((l) => [l.name, l]));
  return new Map(deps.config.mailboxes.map((mb) => [mb.name, leases.get(mailboxLeaseName(stateKey(mb)))]));
}
