import type { Knex } from 'knex';
import * as repo from '../db/repos/mailbox-tokens.ts';
import type { Logger } from '../logger.ts';
import { explainReauth, type MailboxName } from './explain.ts';
import { describeProviderFailure } from './oauth-client.ts';
import { MesaError } from '../errors.ts';
import type { ReauthNotice } from './token-types.ts';

/**
 * What a failed refresh leaves in the mailbox's row (./mailbox-tokens.ts). A grant that is gone (invalid_grant and
 * kin) puts the mailbox in `needs_reauth`, with the provider's code and a Spanish explanation, and the alert goes out
 * at most once a day per mailbox across instances (a slot taken in the row). Anything else (provider down, network)
 * is retried with exponential backoff, never in a tight loop; the token stays usable while it has not expired.
 */

const [BACKOFF_FIRST_MS, BACKOFF_MAX_MS] = [5_000, 10 * 60_000];
const ALERT_EVERY_MS = 24 * 3600_000;

export interface FailureDeps {
  db: Knex;
  log: Logger;
  onReauth?: (notice: ReauthNotice) => Promise<void>;
  /** The mailbox's user, for the alert. */
  user: string;
  /** The mailbox's credential row as it is now. */
  row: () => Promise<repo.CredentialRow>;
}

export async function recordRefreshFailure(
  deps: FailureDeps,
  mailbox: MailboxName,
  err: unknown,
  at: { failures: number; now: number },
): Promise<void> {
  const { failures } = at;
  const reauthCode = (err as { reauthCode?: string }).reauthCode;
  const f = reauthCode
    ? { code: reauthCode, description: String((err as Error).message), reauth: true }
    : describeProviderFailure(err);
  const now = at.now;
  if (f.reauth) {
    const explanation = explainReauth(mailbox, f.code);
    await repo.recordCredentialFailure(deps.db, mailbox, {
      state: 'needs_reauth',
      code: f.code,
      message: `${explanation} (${f.description})`,
      now,
    });
    deps.log.error({ mailbox, code: f.code }, explanation);
    if (deps.onReauth && (await repo.takeAlertSlot(deps.db, mailbox, now, now - ALERT_EVERY_MS))) {
      const user = deps.user;
      await deps
        .onReauth({ mailbox, user, code: f.code, explanation, at: now })
        .catch((e) => deps.log.error({ err: e, mailbox }, 'no se pudo encolar el aviso al administrador'));
    }
    return;
  }
  const wait = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.min(failures, 16));
  const row = await deps.row();
  const expired = !row.expiresAt || row.expiresAt <= now;
  await repo.recordCredentialFailure(deps.db, mailbox, {
    state: expired ? 'error' : 'ok',
    code: f.code,
    message: f.description,
    nextAttemptAt: now + wait,
    now,
  });
  deps.log.warn({ mailbox, code: f.code, retryInMs: wait }, 'no se pudo renovar el token del buzón; se reintentará');
}

/**
 * A sign-in (`mesa mailbox login`) that did not complete; the error names the provider's code. A provider that did not
 * answer (no connection, a time-out, a 5xx) is retryable, and said so: the operator tries again later, nothing of the
 * configuration is wrong. A provider that answered and refused (an OAuth error, a 4xx) is not.
 */
export function loginFailed(err: unknown): never {
  const f = describeProviderFailure(err);
  const e = err as { name?: string; cause?: { status?: number } } | undefined;
  const status = e?.cause?.status;
  // fetch (undici) rejects with a TypeError carrying the socket's error as its cause when nothing answered.
  const unanswered =
    (e?.name === 'TypeError' && e.cause !== undefined && status === undefined) ||
    e?.name === 'TimeoutError' ||
    (typeof status === 'number' && status >= 500);
  throw new MesaError(unanswered ? 'OAUTH_PROVIDER_UNAVAILABLE' : 'OAUTH_LOGIN_FAILED', `${f.code}: ${f.description}`, {
    cause: err,
  });
}
