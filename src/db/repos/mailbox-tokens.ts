import { knexOf, type Queryable } from '../sql.ts';

/**
 * The `mailbox_credentials` table: each mailbox's OAuth2 tokens (sealed by src/mailboxes/token-cipher.ts before
 * they get here) and its credential state. SQL only; the lifecycle is src/mailboxes/.
 */

export type CredentialState = 'ok' | 'needs_login' | 'needs_reauth' | 'error';

export interface CredentialRow {
  mailbox: string;
  kind: string;
  provider: string;
  accessToken?: string;
  refreshToken?: string;
  issuedAt?: number;
  expiresAt?: number;
  scope?: string;
  state: CredentialState;
  lastErrorCode?: string;
  lastError?: string;
  failures: number;
  nextAttemptAt?: number;
  claimUntil?: number;
  alertedAt?: number;
  version: number;
  updatedAt: number;
}

const num = (v: unknown) => (v == null ? undefined : Number(v));
const fromRow = (r: any): CredentialRow => ({
  mailbox: r.mailbox,
  kind: r.kind,
  provider: r.provider,
  accessToken: r.access_token ?? undefined,
  refreshToken: r.refresh_token ?? undefined,
  issuedAt: num(r.issued_at),
  expiresAt: num(r.expires_at),
  scope: r.scope ?? undefined,
  state: r.state,
  lastErrorCode: r.last_error_code ?? undefined,
  lastError: r.last_error ?? undefined,
  failures: Number(r.failures ?? 0),
  nextAttemptAt: num(r.next_attempt_at),
  claimUntil: num(r.claim_until),
  alertedAt: num(r.alerted_at),
  version: Number(r.version),
  updatedAt: Number(r.updated_at),
});

export async function getCredential(queryable: Queryable, mailbox: string): Promise<CredentialRow | undefined> {
  const db = knexOf(queryable);
  const r = await db('mailbox_credentials').where({ mailbox }).first();
  return r ? fromRow(r) : undefined;
}

export async function listCredentials(queryable: Queryable): Promise<CredentialRow[]> {
  const db = knexOf(queryable);
  return (await db('mailbox_credentials').orderBy('mailbox')).map(fromRow);
}

/** The row of a mailbox configured for OAuth2, created the first time as waiting for its sign-in. */
export async function ensureCredential(
  queryable: Queryable,
  mailbox: string,
  kind: string,
  provider: string,
  now: number,
): Promise<void> {
  const db = knexOf(queryable);
  await db('mailbox_credentials')
    .insert({ mailbox, kind, provider, state: 'needs_login', failures: 0, version: 0, updated_at: now })
    .onConflict('mailbox')
    .merge({ kind, provider });
}

/**
 * Takes the right to refresh this token version: only one holder at a time, and only while nobody has stored a newer
 * version (a compare-and-set on `version`). A claim left by a crashed holder lapses at `claim_until`.
 */
export async function claimRefresh(
  queryable: Queryable,
  mailbox: string,
  p: { holder: string; version: number; now: number; ttlMs: number },
): Promise<boolean> {
  const db = knexOf(queryable);
  const n = await db('mailbox_credentials')
    .where({ mailbox, version: p.version })
    .whereNot('state', 'needs_reauth')
    .where((q) => q.whereNull('claim_until').orWhere('claim_until', '<', p.now))
    .update({ refresh_claim: p.holder, claim_until: p.now + p.ttlMs });
  return n === 1;
}

/**
 * New tokens, in one statement: the access token and, when the provider rotated it, the refresh token (a refresh
 * token omitted by the provider keeps the stored one). The state becomes ok, the error and the claim are cleared.
 */
export async function storeTokens(
  queryable: Queryable,
  mailbox: string,
  t: { accessToken: string; refreshToken?: string; issuedAt: number; expiresAt: number; scope?: string; now: number },
): Promise<number> {
  const db = knexOf(queryable);
  const row: Record<string, unknown> = {
    access_token: t.accessToken,
    issued_at: t.issuedAt,
    expires_at: t.expiresAt,
    scope: t.scope ?? null,
    state: 'ok',
    last_error_code: null,
    last_error: null,
    failures: 0,
    next_attempt_at: null,
    refresh_claim: null,
    claim_until: null,
    version: db.raw('version + 1'),
    updated_at: t.now,
  };
  if (t.refreshToken !== undefined) row.refresh_token = t.refreshToken;
  await db('mailbox_credentials').where({ mailbox }).update(row);
  return (await getCredential(db, mailbox))!.version;
}

/** A failed refresh or sign-in: the state, the provider's code and message, when to try again; the claim is freed. */
export async function recordCredentialFailure(
  queryable: Queryable,
  mailbox: string,
  f: { state: CredentialState; code: string; message: string; nextAttemptAt?: number; now: number },
): Promise<void> {
  const db = knexOf(queryable);
  await db('mailbox_credentials')
    .where({ mailbox })
    .update({
      state: f.state,
      last_error_code: f.code.slice(0, 200),
      last_error: f.message.slice(0, 2000),
      failures: db.raw('failures + 1'),
      next_attempt_at: f.nextAttemptAt ?? null,
      refresh_claim: null,
      claim_until: null,
      updated_at: f.now,
    });
}

/** True for the one caller that may send the alert now: none was sent since `since` (any instance). */
export async function takeAlertSlot(
  queryable: Queryable,
  mailbox: string,
  now: number,
  since: number,
): Promise<boolean> {
  const db = knexOf(queryable);
  const n = await db('mailbox_credentials')
    .where({ mailbox })
    .where((q) => q.whereNull('alerted_at').orWhere('alerted_at', '<', since))
    .update({ alerted_at: now });
  return n === 1;
}

/** After the operator fixed an app-only credential (a new client secret): the next use asks the provider again. */
export async function reopenCredential(queryable: Queryable, mailbox: string, now: number): Promise<void> {
  const db = knexOf(queryable);
  await db('mailbox_credentials')
    .where({ mailbox, state: 'needs_reauth' })
    .update({ state: 'error', next_attempt_at: null, refresh_claim: null, claim_until: null, updated_at: now });
}
