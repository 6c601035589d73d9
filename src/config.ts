import path from 'node:path';
import { z } from 'zod';
import { credentialFrom, credentialKeys } from './config-credentials.ts';
import { bool, email, IN_SPANISH, positiveInt, secretKey, timezone, wholeNumber } from './config-fields.ts';
import { graphKeys, graphMailboxes } from './config-graph.ts';
import { mailboxesFrom, mailboxKeys, mailboxProblems, type MailboxConfig } from './config-mailboxes.ts';
import { outboundFrom, outboundKeys, outboundProblems, type OutboundConfig } from './config-outbound.ts';
import { webFrom, webKeys, type WebConfig } from './config-web.ts';
import { MesaError } from './errors.ts';
import { loadCatalogue } from './policy/products.ts';
import { loadLifecycleSettings } from './policy/settings.ts';
import type { LifecycleSettings } from './policy/settings-types.ts';
import type { Catalogue } from './tickets/products.ts';

/**
 * Configuration is read once, from an env-shaped object, validated with zod and frozen. Every bad or missing key
 * is reported by its name in one message. Tests build their own config with `loadConfig({...})`: no globals.
 */

const emailList = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  )
  .pipe(z.array(email));

const EnvSchema = z.object({
  DATABASE_URL: z.string().trim().optional(),
  /** SQLite: how long a write waits its turn for the file's write lock before giving up (src/db/knex.ts). */
  SQLITE_LOCK_WAIT_SECONDS: positiveInt.default(30),
  DATA_DIR: z.string().trim().default('./data'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  // The support and fallback mailboxes (IMAP): src/config-mailboxes.ts.
  ...mailboxKeys,
  // Credential kind per mailbox (password, oauth2 and its provider): src/config-credentials.ts.
  ...credentialKeys(''),
  ...credentialKeys('FALLBACK_'),
  ...graphKeys, // Transport per mailbox (IMAP/SMTP or Microsoft Graph) and Graph's settings: src/config-graph.ts.

  SUPPORT_ADDRESS: email,
  SUPPORT_NAME: z.string().trim().min(1).default('Soporte'),
  CONSULTANTS: emailList.default([]),
  PUBLIC_URL: z
    .string()
    .url('debe ser una dirección web completa, p. ej. https://soporte.suempresa.com')
    .default('http://localhost:8080'),
  HTTP_HOST: z.string().default('127.0.0.1'),
  HTTP_PORT: wholeNumber(0, 65535).default(8080),
  SECRET_KEY: secretKey,
  TIMEZONE: timezone.default('America/Bogota'),
  LOCALE: z.enum(['es', 'en']).default('es'),
  MAX_MESSAGE_BYTES: positiveInt.default(40 * 1024 * 1024),
  MAX_ATTACHMENT_BYTES: positiveInt.default(25 * 1024 * 1024),
  /** Parse incoming mail on a worker thread (the second core), beside the database work:
   * src/inbound/parse-thread.ts. */
  PARSE_WORKER: bool.default(true),
  REOPEN_WINDOW_DAYS: wholeNumber(0).default(30),
  /** People one mail may put on a case (To/Cc), people on a case (requester included), recipients of one answer. */
  MAX_PARTICIPANTS_PER_MAIL: positiveInt.default(10),
  MAX_PARTICIPANTS_PER_CASE: positiveInt.default(25),
  MAX_RECIPIENTS_PER_ANSWER: positiveInt.default(25),
  // Status page (rate limits, trusted proxies, shared case lists): src/config-web.ts.
  ...webKeys,

  /** Who is told when a mailbox needs to be signed in again (src/mailboxes/). */
  ADMIN_ADDRESS: email.optional(),
  // Outbound mail: SMTP, the dispatcher's pacing, the loop budget, links: src/config-outbound.ts.
  ...outboundKeys,
  /** Blobs no row names are removed once older than this (src/storage/gc.ts says why the wait makes it safe). */
  BLOB_GC_GRACE_HOURS: positiveInt.default(24),
  /** The products and modules customers name in their subjects (src/policy/products.ts). */
  PRODUCTS_FILE: z.string().trim().optional(),
});

// Where the mailboxes' settings are read (src/config-mailboxes.ts); many modules name the type from here.
export type { MailboxConfig };

export type Config = Readonly<{
  /** SQLite's lockWaitMs: its busy timeout, how long a write waits for another process's write lock. */
  database: Readonly<
    | { client: 'pg'; url: string; filename?: undefined }
    | { client: 'better-sqlite3'; url: string; filename: string; lockWaitMs: number }
  >;
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
  outbound: OutboundConfig;
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

/** For the keys a new .env lacks, what to put there. */
const HOW_TO_FILL: Record<string, string> = {
  SECRET_KEY: ': genere una con openssl rand -hex 32',
  SUPPORT_ADDRESS: ': la dirección a la que escriben los clientes, p. ej. soporte@suempresa.com',
};

/**
 * The desk's own addresses are distinct, each with one role: mail to the fallback address opens urgent access cases
 * (so one equal to SUPPORT_ADDRESS made every case urgent), and what goes to a consultant or to the administrator
 * must not land in a mailbox Mesa reads (a notice to soporte@ comes back as mail to the desk). Addresses arrive
 * lower-cased (config-fields.ts, email).
 */
function addressProblems(
  e: { SUPPORT_ADDRESS: string; FALLBACK_ADDRESS?: string; CONSULTANTS: string[]; ADMIN_ADDRESS?: string },
  problems: string[],
): void {
  const own = new Map([[e.SUPPORT_ADDRESS, 'SUPPORT_ADDRESS']]);
  if (e.FALLBACK_ADDRESS === e.SUPPORT_ADDRESS)
    problems.push(
      'FALLBACK_ADDRESS: es la misma que SUPPORT_ADDRESS: todo correo sería un caso de acceso urgente; ' +
        'la de respaldo es otra dirección (p. ej. no-puedo-entrar@…)',
    );
  else if (e.FALLBACK_ADDRESS) own.set(e.FALLBACK_ADDRESS, 'FALLBACK_ADDRESS');
  for (const c of e.CONSULTANTS)
    if (own.has(c))
      problems.push(
        `CONSULTANTS: ${c} es ${own.get(c)}: los avisos a ese consultor llegarían al buzón que Mesa lee; cada ` +
          'consultor es una persona con su propia dirección',
      );
  if (e.ADMIN_ADDRESS && own.has(e.ADMIN_ADDRESS))
    problems.push(
      `ADMIN_ADDRESS: es ${own.get(e.ADMIN_ADDRESS)}: los avisos al administrador llegarían al buzón que Mesa lee`,
    );
}

export function loadConfig(env: Env): Config {
  // Empty strings in .env files mean "not set".
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(cleaned, IN_SPANISH);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0] ?? '?');
      const missing = issue.code === 'invalid_type' && cleaned[key] === undefined;
      problems.push(`${key}: ${missing ? `falta (obligatoria)${HOW_TO_FILL[key] ?? ''}` : issue.message}`);
    }
  }
  const e = parsed.success ? parsed.data : undefined;
  if (e) {
    mailboxProblems(e, problems);
    outboundProblems(e, problems);
    addressProblems(e, problems);
    if (e.SMTP_AUTH === 'oauth2' && (!e.IMAP_HOST || (e as Record<string, unknown>).IMAP_AUTH !== 'oauth2'))
      problems.push('SMTP_AUTH: oauth2 usa el token del buzón de soporte: requiere IMAP_HOST e IMAP_AUTH=oauth2');
    if (
      e.DATABASE_URL &&
      !/^(postgres(ql)?:\/\/|sqlite:|file:)/.test(e.DATABASE_URL) &&
      !e.DATABASE_URL.endsWith('.sqlite') &&
      !e.DATABASE_URL.endsWith('.db')
    )
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
  const mailboxes = mailboxesFrom(e, supportCredential, fallbackCredential, graph);

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
    participants: {
      perMail: e.MAX_PARTICIPANTS_PER_MAIL,
      perCase: e.MAX_PARTICIPANTS_PER_CASE,
      perAnswer: e.MAX_RECIPIENTS_PER_ANSWER,
    },
    web: webFrom(e),
    outbound: outboundFrom(e),
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
