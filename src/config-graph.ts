import { z } from 'zod';
import { credentialFrom, isLoopback, type MailboxCredential, type MailboxTransport } from './config-credentials.ts';
import { INBOX_DISPLAY_NAMES, isReadFolder, readFolderProblem } from './config-fields.ts';

/**
 * Microsoft Graph as a mailbox's transport (issue 26), for Microsoft 365 tenants where IMAP and SMTP AUTH are switched
 * off: the mailbox is read with a delta query on its folder and mail leaves with `sendMail`, over plain REST with the
 * same OAuth2 tokens (src/mailboxes/). Chosen per mailbox; read from the environment by src/config.ts.
 */

export type { MailboxTransport };

export type GraphSettings = Readonly<{
  /** GRAPH_BASE_URL, without a trailing slash: https://graph.microsoft.com/v1.0 unless a test points at its stub. */
  baseUrl: string;
  /** The mailbox's user id or user principal name (`/users/{user}`). */
  user: string;
  /** The folder read: a well-known name (`inbox`) or a folder id. */
  folder: string;
  /** Display name of the folder each mail is moved to once recorded (GRAPH_PROCESSED_FOLDER), under the root. */
  processedFolder?: string;
}>;

export const GRAPH_DEFAULT_BASE_URL = 'https://graph.microsoft.com/v1.0';

const transportKey = z.enum(['imap', 'graph'], { message: 'debe ser imap o graph' }).optional();

export const graphKeys = {
  /** Per mailbox: IMAP/SMTP (the default) or Microsoft Graph. */
  SUPPORT_MAILBOX_TRANSPORT: transportKey,
  FALLBACK_MAILBOX_TRANSPORT: transportKey,
  GRAPH_BASE_URL: z.string().trim().url('debe ser una URL, p. ej. https://graph.microsoft.com/v1.0').optional(),
  GRAPH_USER: z.string().trim().min(1).optional(),
  FALLBACK_GRAPH_USER: z.string().trim().min(1).optional(),
  GRAPH_FOLDER: z.string().trim().min(1).optional(),
  FALLBACK_GRAPH_FOLDER: z.string().trim().min(1).optional(),
  GRAPH_PROCESSED_FOLDER: z.string().trim().min(1).optional(),
} as Record<string, z.ZodType<string | undefined>>;

/** The transport of the mailbox whose keys start with `prefix` ('' support, 'FALLBACK_' fallback). */
function transportOf(e: Record<string, unknown>, prefix: '' | 'FALLBACK_'): MailboxTransport {
  return (
    (e[prefix ? 'FALLBACK_MAILBOX_TRANSPORT' : 'SUPPORT_MAILBOX_TRANSPORT'] as MailboxTransport | undefined) ?? 'imap'
  );
}

/** The Graph settings of a mailbox on Graph (undefined on IMAP); problems are appended by key name. */
export function graphFrom(
  e: Record<string, unknown>,
  prefix: '' | 'FALLBACK_',
  problems: string[],
): GraphSettings | undefined {
  if (transportOf(e, prefix) !== 'graph') return undefined;
  const get = (key: string) => e[`${prefix}${key}`] as string | undefined;
  const transportKeyName = prefix ? 'FALLBACK_MAILBOX_TRANSPORT' : 'SUPPORT_MAILBOX_TRANSPORT';
  const baseUrl = ((e.GRAPH_BASE_URL as string | undefined) ?? GRAPH_DEFAULT_BASE_URL).replace(/\/+$/, '');
  const url = new URL(baseUrl);
  // The access token travels with every request: plain HTTP only to this same machine (the tests' stub).
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname)))
    problems.push('GRAPH_BASE_URL: debe usar https:// (http:// solo hacia esta misma máquina)');
  const user = get('GRAPH_USER') ?? get('IMAP_USER');
  if (!user)
    problems.push(
      `${prefix}GRAPH_USER: falta (obligatoria con ${transportKeyName}=graph): ` +
        'la dirección (UPN) o el id del buzón en Microsoft 365',
    );
  if (get('IMAP_AUTH') === 'password')
    problems.push(`${prefix}IMAP_AUTH: Microsoft Graph solo acepta OAuth2; quítela o ponga oauth2`);
  if (get('IMAP_HOST'))
    problems.push(
      `${prefix}IMAP_HOST: sobra con ${transportKeyName}=graph (el buzón se lee por Microsoft Graph, no por IMAP)`,
    );
  // One processed folder for both mailboxes, as IMAP_PROCESSED_FOLDER.
  const folder = get('GRAPH_FOLDER') ?? 'inbox';
  const processedFolder = e.GRAPH_PROCESSED_FOLDER as string | undefined;
  // Found by its display name under the root (graph-round.ts): «Bandeja de entrada» is the inbox itself.
  const isInbox = (name: string) => INBOX_DISPLAY_NAMES.includes(name.trim().toLowerCase());
  if (processedFolder && (isReadFolder(processedFolder, folder) || (isInbox(folder) && isInbox(processedFolder))))
    problems.push(readFolderProblem('GRAPH_PROCESSED_FOLDER', `${prefix}GRAPH_FOLDER`, folder));
  return { baseUrl, user: user ?? '', folder, processedFolder };
}

/** What MailboxConfig (src/config.ts) says of its transport: imap by default; on graph, where the mailbox is. */
export type TransportFields = Readonly<{ transport?: MailboxTransport; graph?: GraphSettings }>;

/** A mailbox read and written through Microsoft Graph, shaped as src/config.ts's MailboxConfig: no IMAP host, its
 * folder as `mailbox` (mailbox_state's name), always OAuth2. */
export type GraphMailbox = Readonly<{
  name: 'support' | 'fallback';
  host: '';
  port: 0;
  secure: true;
  user: string;
  credential: MailboxCredential;
  mailbox: string;
  processedFolder?: string;
  rejectUnauthorized: true;
  pollSeconds: number;
  backlogDays: number | 'all';
  transport: 'graph';
  graph: GraphSettings;
}>;

/** The mailboxes set to Graph (each with its OAuth2 credential); problems are appended by key name. */
export function graphMailboxes(
  e: Record<string, unknown>,
  problems: string[],
): { support?: GraphMailbox; fallback?: GraphMailbox } {
  const out: { support?: GraphMailbox; fallback?: GraphMailbox } = {};
  for (const [name, prefix] of [
    ['support', ''],
    ['fallback', 'FALLBACK_'],
  ] as const) {
    const graph = graphFrom(e, prefix, problems);
    if (!graph) continue;
    if (name === 'fallback' && !e.FALLBACK_ADDRESS)
      problems.push('FALLBACK_ADDRESS: falta (obligatoria cuando FALLBACK_MAILBOX_TRANSPORT=graph)');
    out[name] = {
      name,
      host: '',
      port: 0,
      secure: true,
      user: graph.user,
      credential: credentialFrom(e, prefix, problems, 'graph'),
      mailbox: graph.folder,
      processedFolder: graph.processedFolder,
      rejectUnauthorized: true,
      pollSeconds: Number(e.IMAP_POLL_SECONDS ?? 60),
      // Parsed with the IMAP keys (src/config-mailboxes.ts), its default included.
      backlogDays: e.MAILBOX_BACKLOG_DAYS as number | 'all',
      transport: 'graph',
      graph,
    };
  }
  return out;
}
