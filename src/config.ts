import path from 'node:path';
import { z } from 'zod';
import { credentialFrom, credentialKeys, type MailboxCredential } from './config-credentials.ts';
import { graphKeys, graphMailboxes, type TransportFields } from './config-graph.ts';
import { secretKey, timezone } from './config-fields.ts';
import { webFrom, webKeys, type WebConfig } from './config-web.ts';
import { MesaError } from './errors.ts';
import { loadCatalogue } from './policy/products.ts';
import { loadLifecycleSettings, type LifecycleSettings } from './policy/settings.ts';
import type { Catalogue } from './tickets/products.ts';

/**
 * Configuration is read once, from an env-shaped object, validated with zod and frozen. Every bad or missing key
 * is reported by its name in one message. Tests build their own config with `loadConfig({...})`: no globals.
 */

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['true', 'false', '1', '0', 'yes', 'no', 'si', 'sí'].includes(v), 'debe ser true o false')
  .transform((v) => ['true', '1', 'yes', 'si', 'sí'].includes(v));
const port = z.coerce.number().int().min(1).max(65535);
const positiveInt = z.coerce.number().int().positive();
const email = z.string().trim().toLowerCase().email();
const emailList = z
  .string()
  .transform((v) => v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean))
  .pipe(z.array(z.string().email('contiene una dirección inválida')));

const EnvSchema = z.object({
  DATABASE_URL: z.string().trim().optional(),
  /** SQLite: how long a write waits its turn for the file's write lock before giving up (src/db/knex.ts). */
  SQLITE_LOCK_WAIT_SECONDS: positiveInt.default(30),
  DATA_DIR: z.string().trim().default('./data'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

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
  // Credential kind per mailbox (password, oauth2 and its provider): src/config-credentials.ts.
  ...credentialKeys(''),
  ...credentialKeys('FALLBACK_'),
  ...graphKeys, // Transport per mailbox (IMAP/SMTP or Microsoft Graph) and Graph's settings: src/config-graph.ts.

  FALLBACK_ADDRESS: email.optional(),
  FALLBACK_IMAP_HOST: z.string().trim().optional(),
  FALLBACK_IMAP_PORT: port.default(993),
  FALLBACK_IMAP_SECURE: bool.default(true),
  FALLBACK_IMAP_USER: z.string().optional(),
  FALLBACK_IMAP_PASSWORD: z.string().optional(),
  FALLBACK_IMAP_ACCESS_TOKEN: z.string().optional(),
  FALLBACK_IMAP_MAILBOX: z.string().default('INBOX'),

  SUPPORT_ADDRESS: email,
  SUPPORT_NAME: z.string().trim().min(1).default('Soporte'),
  CONSULTANTS: emailList.default([]),
  PUBLIC_URL: z.string().url().default('http://localhost:8080'),
  HTTP_HOST: z.string().default('127.0.0.1'),
  HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  SECRET_KEY: secretKey,
  TIMEZONE: timezone.default('America/Bogota'),
  LOCALE: z.enum(['es', 'en']).default('es'),
  MAX_MESSAGE_BYTES: positiveInt.default(40 * 1024 * 1024),
  MAX_ATTACHMENT_BYTES: positiveInt.default(25 * 1024 * 1024),
  /** Parse incoming mail on a worker thread (the second core), beside the database work: src/inbound/parse-thread.ts. */
  PARSE_WORKER: bool.default(true),
  REOPEN_WINDOW_DAYS: z.coerce.number().int().min(0).default(30),
  /** People one mail may put on a case (To/Cc), people on a case (requester included), recipients of one answer. */
  MAX_PARTICIPANTS_PER_MAIL: positiveInt.default(10),
  MAX_PARTICIPANTS_PER_CASE: positiveInt.default(25),
  MAX_RECIPIENTS_PER_ANSWER: positiveInt.default(25),
  // Status page (rate limits, trusted proxies, shared case lists): src/config-web.ts.
  ...webKeys,

  // Outbound mail (issue 3). Without SMTP_HOST, mail is written as .eml files under DATA_DIR/outbox-eml.
  SMTP_HOST: z.string().trim().optional(),
  SMTP_PORT: port.default(587),
  SMTP_SECURE: bool.default(false),
  SMTP_USER: z.string().optional(),
  SMTP_PASSWORD: z.string().optional(),
  /** oauth2: SMTP signs in (XOAUTH2) with the support mailbox's OAuth2 token, the one IMAP uses. */
  SMTP_AUTH: z.enum(['password', 'oauth2'], { message: 'debe ser password u oauth2' }).default('password'),
  /** Who is told when a mailbox needs to be signed in again (src/mailboxes/). */
  ADMIN_ADDRESS: email.optional(),
  SMTP_POOL_SIZE: positiveInt.default(3),
  OUTBOX_POLL_MS: positiveInt.default(2000),
  OUTBOX_RETRY_BASE_MS: positiveInt.default(30_000),
  OUTBOX_RETRY_MAX_MS: positiveInt.default(3_600_000),
  OUTBOX_MAX_ATTEMPTS: positiveInt.default(12),
  AUTO_MAIL_LIMIT_WINDOW: positiveInt.default(10),
  AUTO_MAIL_WINDOW_MINUTES: positiveInt.default(10),
  AUTO_MAIL_LIMIT_DAY: positiveInt.default(40),
  BOUNCE_SUPPRESS_DAYS: positiveInt.default(7),
  LINK_TTL_DAYS: positiveInt.default(90),
  /** Sent mail is deleted from the outbox after this many days (src/jobs/retention.ts). */
  OUTBOX_RETENTION_DAYS: positiveInt.default(30),
  /** Blobs no row names are removed once older than this (src/storage/gc.ts says why the wait makes it safe). */
  BLOB_GC_GRACE_HOURS: positiveInt.default(24),
  TRUSTED_AUTHSERV_IDS: z
    .string()
    .transform((v) => v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean))
    .default([]),
  /** Received fields our own servers write above the receiving server's Authentication-Results (consultant-auth.ts). */
  AUTH_RESULTS_RECEIVED_HOPS: z.coerce.number().int().min(0).max(10).default(0),
  /** Security alerts and notices about their own mail, per consultant and hour: outside the loop budget. */
  DESK_ALERTS_PER_HOUR: positiveInt.default(5),
  BUSINESS_HOURS: z.string().trim().optional(),
  /** The products and modules customers name in their subjects (src/policy/products.ts). */
  PRODUCTS_FILE: z.string().trim().optional(),
});

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
}> & TransportFields;

export type Config = Readonly<{
  /** SQLite's lockWaitMs: its busy timeout, how long a write waits for another process's write lock. */
  database: Readonly<{ client: 'pg'; url: string; filename?: undefined } | { client: 'better-sqlite3'; url: string; filename: string; lockWaitMs: number }>;
  dataDir: string;
  logLevel: string;
  mailboxes: readonly MailboxConfig[];
  fallbackAddress?: string;
  adminAddress?: string;
  supportAddress: string;
  supportName: string;
  consultants: readonly string[];
  publicUrl: string;
  http: Readonly<{ host: string; port: number }>;
  secretKey: string;
  timezone: string;
  locale: 'es' | 'en';
  limits: Readonly<{ maxMessageBytes: number; maxAttachmentBytes: number }>;
  /** Blob collection (`mesa gc`, the scheduled jobs): unnamed blobs younger than this are left alone. */
  storage: Readonly<{ blobGcGraceHours: number }>;
  /** MIME parsing on a worker thread (PARSE_WORKER). */
  parseWorker: boolean;
  reopenWindowDays: number;
  /** Caps against fan-out: see src/services/participants.ts. */
  participants: Readonly<{ perMail: number; perCase: number; perAnswer: number }>;
  web: WebConfig;
  /** Outbound mail: SMTP (absent = .eml files), dispatcher pacing, loop budget, links, consultant authentication. */
  outbound: Readonly<{
    smtp?: Readonly<{ host: string; port: number; secure: boolean; user?: string; password?: string; poolSize: number; auth: 'password' | 'oauth2' }>;
    pollMs: number;
    retryBaseMs: number;
    retryMaxMs: number;
    maxAttempts: number;
    budget: Readonly<{ window: number; windowMinutes: number; day: number }>;
    bounceSuppressDays: number;
    linkTtlDays: number;
    /** Days a sent mail stays in the outbox before the scheduled jobs delete it. */
    retentionDays: number;
    trustedAuthservIds: readonly string[];
    authResultsReceivedHops: number;
    /** Mail to the desk outside the loop budget (src/outbound/outbox.ts), per consultant and hour. */
    deskAlertsPerHour: number;
    businessHours?: string;
  }>;
  /** Calendar, SLA, auto-close, limits, entitlement, digest: env keys and MESA_CONFIG_FILE (src/policy/settings.ts). */
  lifecycle: LifecycleSettings;
  /** Products, modules and versions a case may be about (PRODUCTS_FILE or DATA_DIR/productos.yaml); may be empty. */
  products: Catalogue;
}>;

export type Env = Record<string, string | undefined>;

function deepFreeze<T>(obj: T): T {
  if (obj && typeof obj === 'object') {
    for (const v of Object.values(obj)) deepFreeze(v);
    Object.freeze(obj);
  }
  return obj;
}

export function loadConfig(env: Env): Config {
  // Empty strings in .env files mean "not set".
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(cleaned);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0] ?? '?');
      const missing = issue.code === 'invalid_type' && cleaned[key] === undefined;
      problems.push(`${key}: ${missing ? 'falta (obligatoria)' : issue.message}`);
    }
  }
  const e = parsed.success ? parsed.data : undefined;
  if (e) {
    if (e.IMAP_HOST && !e.IMAP_USER) problems.push('IMAP_USER: falta (obligatoria cuando IMAP_HOST está definida)');
    if (e.FALLBACK_IMAP_HOST && !e.FALLBACK_IMAP_USER)
      problems.push('FALLBACK_IMAP_USER: falta (obligatoria cuando FALLBACK_IMAP_HOST está definida)');
    if (e.SMTP_AUTH === 'oauth2' && (!e.IMAP_HOST || (e as Record<string, unknown>).IMAP_AUTH !== 'oauth2'))
      problems.push('SMTP_AUTH: oauth2 usa el token del buzón de soporte: requiere IMAP_HOST e IMAP_AUTH=oauth2');
    if (e.FALLBACK_IMAP_HOST && !e.FALLBACK_ADDRESS)
      problems.push('FALLBACK_ADDRESS: falta (obligatoria cuando FALLBACK_IMAP_HOST está definida)');
    if (e.DATABASE_URL && !/^(postgres(ql)?:\/\/|sqlite:|file:)/.test(e.DATABASE_URL) && !e.DATABASE_URL.endsWith('.sqlite') && !e.DATABASE_URL.endsWith('.db'))
      problems.push('DATABASE_URL: debe empezar por postgres:// o sqlite: (o ser la ruta de un archivo .sqlite)');
  }
  const supportCredential = e?.IMAP_HOST ? credentialFrom(e, '', problems) : undefined;
  const fallbackCredential = e?.FALLBACK_IMAP_HOST ? credentialFrom(e, 'FALLBACK_', problems) : undefined;
  const graph = e ? graphMailboxes(e, problems) : {};
  const lifecycle = e ? loadLifecycleSettings(cleaned, e.TIMEZONE, problems) : undefined;
  const products = e ? loadCatalogue(cleaned, path.resolve(e.DATA_DIR), problems) : undefined;
  if (problems.length > 0 || !e || !lifecycle || !products) {
    throw new MesaError('CONFIG_INVALID', `\n  - ${problems.join('\n  - ')}`);
  }

  const dataDir = path.resolve(e.DATA_DIR);
  const database = databaseFrom(e.DATABASE_URL, dataDir, e.SQLITE_LOCK_WAIT_SECONDS * 1000);
  const mailboxes: MailboxConfig[] = graph.support ? [graph.support] : [];
  if (e.IMAP_HOST) {
    mailboxes.push({
      name: 'support', host: e.IMAP_HOST, port: e.IMAP_PORT, secure: e.IMAP_SECURE, user: e.IMAP_USER!,
      password: e.IMAP_PASSWORD, accessToken: e.IMAP_ACCESS_TOKEN, credential: supportCredential!, mailbox: e.IMAP_MAILBOX,
      processedFolder: e.IMAP_PROCESSED_FOLDER, rejectUnauthorized: e.IMAP_TLS_REJECT_UNAUTHORIZED,
      pollSeconds: e.IMAP_POLL_SECONDS,
    });
  }
  if (graph.fallback) mailboxes.push(graph.fallback);
  if (e.FALLBACK_IMAP_HOST) {
    mailboxes.push({
      name: 'fallback', host: e.FALLBACK_IMAP_HOST, port: e.FALLBACK_IMAP_PORT, secure: e.FALLBACK_IMAP_SECURE,
      user: e.FALLBACK_IMAP_USER!, password: e.FALLBACK_IMAP_PASSWORD, accessToken: e.FALLBACK_IMAP_ACCESS_TOKEN, credential: fallbackCredential!,
      mailbox: e.FALLBACK_IMAP_MAILBOX, processedFolder: e.IMAP_PROCESSED_FOLDER,
      rejectUnauthorized: e.IMAP_TLS_REJECT_UNAUTHORIZED, pollSeconds: e.IMAP_POLL_SECONDS,
    });
  }

  return deepFreeze({
    database,
    dataDir,
    logLevel: e.LOG_LEVEL,
    mailboxes,
    fallbackAddress: e.FALLBACK_ADDRESS,
    adminAddress: e.ADMIN_ADDRESS,
    supportAddress: e.SUPPORT_ADDRESS,
    supportName: e.SUPPORT_NAME,
    consultants: e.CONSULTANTS,
    publicUrl: e.PUBLIC_URL.replace(/\/+$/, ''),
    http: { host: e.HTTP_HOST, port: e.HTTP_PORT },
    secretKey: e.SECRET_KEY,
    timezone: e.TIMEZONE,
    locale: e.LOCALE,
    limits: { maxMessageBytes: e.MAX_MESSAGE_BYTES, maxAttachmentBytes: e.MAX_ATTACHMENT_BYTES },
    storage: { blobGcGraceHours: e.BLOB_GC_GRACE_HOURS },
    parseWorker: e.PARSE_WORKER,
    reopenWindowDays: e.REOPEN_WINDOW_DAYS,
    participants: { perMail: e.MAX_PARTICIPANTS_PER_MAIL, perCase: e.MAX_PARTICIPANTS_PER_CASE, perAnswer: e.MAX_RECIPIENTS_PER_ANSWER },
    web: webFrom(e),
    outbound: {
      smtp: e.SMTP_HOST
        ? { host: e.SMTP_HOST, port: e.SMTP_PORT, secure: e.SMTP_SECURE, user: e.SMTP_USER ?? (e.SMTP_AUTH === 'oauth2' ? e.IMAP_USER : undefined), password: e.SMTP_PASSWORD, poolSize: e.SMTP_POOL_SIZE, auth: e.SMTP_AUTH }
        : undefined,
      pollMs: e.OUTBOX_POLL_MS,
      retryBaseMs: e.OUTBOX_RETRY_BASE_MS,
      retryMaxMs: e.OUTBOX_RETRY_MAX_MS,
      maxAttempts: e.OUTBOX_MAX_ATTEMPTS,
      budget: { window: e.AUTO_MAIL_LIMIT_WINDOW, windowMinutes: e.AUTO_MAIL_WINDOW_MINUTES, day: e.AUTO_MAIL_LIMIT_DAY },
      bounceSuppressDays: e.BOUNCE_SUPPRESS_DAYS,
      linkTtlDays: e.LINK_TTL_DAYS,
      retentionDays: e.OUTBOX_RETENTION_DAYS,
      trustedAuthservIds: e.TRUSTED_AUTHSERV_IDS,
      authResultsReceivedHops: e.AUTH_RESULTS_RECEIVED_HOPS,
      deskAlertsPerHour: e.DESK_ALERTS_PER_HOUR,
      businessHours: e.BUSINESS_HOURS,
    },
    lifecycle,
    products,
  } satisfies Config);
}

function databaseFrom(url: string | undefined, dataDir: string, lockWaitMs: number): Config['database'] {
  if (url && /^postgres(ql)?:\/\//.test(url)) return { client: 'pg', url };
  let filename = path.join(dataDir, 'mesa.sqlite');
  if (url) filename = path.resolve(url.replace(/^sqlite:(\/\/)?/, '').replace(/^file:(\/\/)?/, ''));
  return { client: 'better-sqlite3', url: `sqlite:${filename}`, filename, lockWaitMs };
}
