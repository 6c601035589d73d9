import { knexOf, type Queryable } from '../sql.ts';
import type { MailboxConfig } from '../../config.ts';

export interface MailboxState {
  name: string;
  uidvalidity?: number;
  lastUid: number;
  lastPollAt?: number;
  lastSuccessAt?: number;
  lastError?: string;
  errorCount: number;
  /** The first read left in the mailbox what arrived before this instant (ms; migrations/…_mailbox_backlog.ts). */
  backlogBefore?: number;
}

const fromRow = (r: any): MailboxState => ({
  name: r.name,
  uidvalidity: r.uidvalidity == null ? undefined : Number(r.uidvalidity),
  lastUid: Number(r.last_uid),
  lastPollAt: r.last_poll_at == null ? undefined : Number(r.last_poll_at),
  lastSuccessAt: r.last_success_at == null ? undefined : Number(r.last_success_at),
  lastError: r.last_error ?? undefined,
  errorCount: Number(r.error_count ?? 0),
  backlogBefore: r.backlog_before == null ? undefined : Number(r.backlog_before),
});

export async function getMailboxState(queryable: Queryable, name: string): Promise<MailboxState | undefined> {
  const db = knexOf(queryable);
  const r = await db('mailbox_state').where({ name }).first();
  return r ? fromRow(r) : undefined;
}

export async function listMailboxStates(queryable: Queryable): Promise<MailboxState[]> {
  const db = knexOf(queryable);
  return (await db('mailbox_state').orderBy('name')).map(fromRow);
}

export async function saveMailboxState(
  queryable: Queryable,
  name: string,
  patch: Partial<Omit<MailboxState, 'name'>>,
): Promise<void> {
  const db = knexOf(queryable);
  const row: Record<string, unknown> = {};
  if ('uidvalidity' in patch) row.uidvalidity = patch.uidvalidity ?? null;
  if (patch.lastUid !== undefined) row.last_uid = patch.lastUid;
  if (patch.lastPollAt !== undefined) row.last_poll_at = patch.lastPollAt;
  if (patch.lastSuccessAt !== undefined) row.last_success_at = patch.lastSuccessAt;
  if ('lastError' in patch) row.last_error = patch.lastError ?? null;
  if (patch.errorCount !== undefined) row.error_count = patch.errorCount;
  if (patch.backlogBefore !== undefined) row.backlog_before = patch.backlogBefore;
  await db('mailbox_state')
    .insert({ name, last_uid: 0, error_count: 0, ...row })
    .onConflict('name')
    .merge(row);
}

/** The mailbox_state row name of a configured mailbox, e.g. `support:INBOX`. Here, not in the poller, so that the web
 * server (/healthz) can name mailboxes without loading imapflow before it listens. */
export function stateKey(mb: Pick<MailboxConfig, 'name' | 'mailbox'>): string {
  return `${mb.name}:${mb.mailbox}`;
}
