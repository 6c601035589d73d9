import { z } from 'zod';
import type { MailboxCredential } from './config-credentials.ts';
import { bool, email, isReadFolder, port, positiveInt, readFolderProblem } from './config-fields.ts';
import type { TransportFields } from './config-graph.ts';

/**
 * The mailboxes Mesa reads: the support mailbox and an optional fallback (another address whose mail also becomes
 * cases), each reached over IMAP. Read from the environment by src/config.ts; how each one signs in is
 * src/config-credentials.ts. Every bad value is named by its key.
 */

/** Days of the mail already in a mailbox that its first read takes (`all`: every mail, as read before this key). */
export const backlogDays = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => v === 'all' || /^\d{1,5}$/.test(v), 'debe ser un número entero de días (0 o más) o "all"')
  .transform((v): number | 'all' => (v === 'all' ? 'all' : Number(v)));

export const mailboxKeys = {
  IMAP_HOST: z.string().trim().optional(),
  IMAP_PORT: port.default(993),
  IMAP_SECURE: bool.default(true),
  IMAP_USER: z.string().optional(),
  IMAP_PASSWORD: z.string().optional(),
  IMAP_ACCESS_TOKEN: z.string().optional(),
  IMAP_MAILBOX: z.string().default('INBOX'),
  IMAP_PROCESSED_FOLDER: z.string().optional(),
  IMAP_TLS_REJECT_UNAUTHORIZED: bool.default(true),
  IMAP_POLL_SECONDS: positiveInt.default(60),
  MAILBOX_BACKLOG_DAYS: backlogDays.default(14),

  FALLBACK_ADDRESS: email.optional(),
  FALLBACK_IMAP_HOST: z.string().trim().optional(),
  FALLBACK_IMAP_PORT: port.default(993),
  FALLBACK_IMAP_SECURE: bool.default(true),
  FALLBACK_IMAP_USER: z.string().optional(),
  FALLBACK_IMAP_PASSWORD: z.string().optional(),
  FALLBACK_IMAP_ACCESS_TOKEN: z.string().optional(),
  FALLBACK_IMAP_MAILBOX: z.string().default('INBOX'),
};

export type MailboxConfig = Readonly<{
  /** Stable name used in the ledger: `support` or `fallback`. */
  name: 'support' | 'fallback';
  host: string;
  port: number;
  secure: boolean;
  user: string;
  password?: string;
  accessToken?: string;
  /** password, a fixed token, or OAuth2 tokens kept by src/mailboxes/ (src/config-credentials.ts). */
  credential: MailboxCredential;
  mailbox: string;
  processedFolder?: string;
  rejectUnauthorized: boolean;
  pollSeconds: number;
  /**
   * The first read of a mailbox (MAILBOX_BACKLOG_DAYS) starts at the first mail that reached it in the last this many
   * days: what was there before stays in the mailbox, untouched, and opens no case nor sends a confirmation.
   */
  backlogDays: number | 'all';
}> &
  TransportFields;

type MailboxEnv = z.output<z.ZodObject<typeof mailboxKeys>>;

/** A mailbox named by its host needs a user (and the fallback its own address). */
export function mailboxProblems(e: MailboxEnv, problems: string[]): void {
  if (e.IMAP_HOST && !e.IMAP_USER) problems.push('IMAP_USER: falta (obligatoria cuando IMAP_HOST está definida)');
  if (e.FALLBACK_IMAP_HOST && !e.FALLBACK_IMAP_USER)
    problems.push('FALLBACK_IMAP_USER: falta (obligatoria cuando FALLBACK_IMAP_HOST está definida)');
  if (e.FALLBACK_IMAP_HOST && !e.FALLBACK_ADDRESS)
    problems.push('FALLBACK_ADDRESS: falta (obligatoria cuando FALLBACK_IMAP_HOST está definida)');
  const processed = e.IMAP_PROCESSED_FOLDER;
  for (const [key, host, folder] of [
    ['IMAP_MAILBOX', e.IMAP_HOST, e.IMAP_MAILBOX],
    ['FALLBACK_IMAP_MAILBOX', e.FALLBACK_IMAP_HOST, e.FALLBACK_IMAP_MAILBOX],
  ] as const)
    if (processed && host && isReadFolder(processed, folder))
      problems.push(readFolderProblem('IMAP_PROCESSED_FOLDER', key, folder));
}

/** The mailboxes whose host is set, support first; each credential was read beside it (config-credentials.ts). */
export function mailboxesFrom(
  e: MailboxEnv,
  supportCredential?: MailboxCredential,
  fallbackCredential?: MailboxCredential,
  graph: { support?: MailboxConfig; fallback?: MailboxConfig } = {},
): MailboxConfig[] {
  // A mailbox on Microsoft Graph (src/config-graph.ts) has no IMAP host; each name is read one way or the other.
  const mailboxes: MailboxConfig[] = graph.support ? [graph.support] : [];
  if (e.IMAP_HOST) {
    mailboxes.push({
      name: 'support',
      host: e.IMAP_HOST,
      port: e.IMAP_PORT,
      secure: e.IMAP_SECURE,
      user: e.IMAP_USER!,
      password: e.IMAP_PASSWORD,
      accessToken: e.IMAP_ACCESS_TOKEN,
      credential: supportCredential!,
      mailbox: e.IMAP_MAILBOX,
      processedFolder: e.IMAP_PROCESSED_FOLDER,
      rejectUnauthorized: e.IMAP_TLS_REJECT_UNAUTHORIZED,
      pollSeconds: e.IMAP_POLL_SECONDS,
      backlogDays: e.MAILBOX_BACKLOG_DAYS,
    });
  }
  if (graph.fallback) mailboxes.push(graph.fallback);
  if (e.FALLBACK_IMAP_HOST) {
    mailboxes.push({
      name: 'fallback',
      host: e.FALLBACK_IMAP_HOST,
      port: e.FALLBACK_IMAP_PORT,
      secure: e.FALLBACK_IMAP_SECURE,
      user: e.FALLBACK_IMAP_USER!,
      password: e.FALLBACK_IMAP_PASSWORD,
      accessToken: e.FALLBACK_IMAP_ACCESS_TOKEN,
      credential: fallbackCredential!,
      mailbox: e.FALLBACK_IMAP_MAILBOX,
      processedFolder: e.IMAP_PROCESSED_FOLDER,
      rejectUnauthorized: e.IMAP_TLS_REJECT_UNAUTHORIZED,
      pollSeconds: e.IMAP_POLL_SECONDS,
      backlogDays: e.MAILBOX_BACKLOG_DAYS,
    });
  }
  return mailboxes;
}

/** The key that names a mailbox's folder, for a message that asks the operator to correct it. */
export function folderKey(mailbox: Pick<MailboxConfig, 'name'>): 'IMAP_MAILBOX' | 'FALLBACK_IMAP_MAILBOX' {
  return mailbox.name === 'fallback' ? 'FALLBACK_IMAP_MAILBOX' : 'IMAP_MAILBOX';
}
