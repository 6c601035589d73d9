import { z } from 'zod';
import { bool, port, positiveInt, wholeNumber } from './config-fields.ts';

/**
 * Outbound mail: SMTP (without SMTP_HOST, mail is written as .eml files under DATA_DIR/outbox-eml), the dispatcher's
 * pacing and retries, the loop budget, bounces, magic links, and what consultant authentication trusts. Read from
 * the environment by src/config.ts; every bad value is named by its key.
 */

export const outboundKeys = {
  SMTP_HOST: z.string().trim().optional(),
  SMTP_PORT: port.default(587),
  SMTP_SECURE: bool.default(false),
  SMTP_USER: z.string().optional(),
  SMTP_PASSWORD: z.string().optional(),
  /** oauth2: SMTP signs in (XOAUTH2) with the support mailbox's OAuth2 token, the one IMAP uses. */
  SMTP_AUTH: z.enum(['password', 'oauth2'], { message: 'debe ser password u oauth2' }).default('password'),
  SMTP_POOL_SIZE: positiveInt.default(3),
  /** Mails per SMTP session before it is closed and another opened: for a server that caps them (an Exchange receive
   * connector takes 20 by default). Unset: a session lasts while there is mail to send. */
  SMTP_MAX_MESSAGES: positiveInt.optional(),
  /** Compose outgoing mail on a worker thread (the second core) while the dispatcher speaks SMTP:
   * src/outbound/compose-thread.ts. */
  COMPOSE_WORKER: bool.default(true),
  OUTBOX_POLL_MS: positiveInt.default(2000),
  OUTBOX_RETRY_BASE_MS: positiveInt.default(30_000),
  OUTBOX_RETRY_MAX_MS: positiveInt.default(3_600_000),
  OUTBOX_MAX_ATTEMPTS: positiveInt.default(12),
  /** The files one outgoing mail carries, together (bytes); the rest it lists, and the case page serves them.
   * Default: ATTACH_MAX_BYTES, or GRAPH_ATTACH_MAX_BYTES when mail leaves by Microsoft Graph. */
  MAIL_ATTACH_MAX_BYTES: positiveInt.optional(),
  AUTO_MAIL_LIMIT_WINDOW: positiveInt.default(10),
  AUTO_MAIL_WINDOW_MINUTES: positiveInt.default(10),
  AUTO_MAIL_LIMIT_DAY: positiveInt.default(40),
  BOUNCE_SUPPRESS_DAYS: positiveInt.default(7),
  LINK_TTL_DAYS: positiveInt.default(90),
  /** Sent mail is deleted from the outbox after this many days (src/jobs/retention.ts). */
  OUTBOX_RETENTION_DAYS: positiveInt.default(30),

  TRUSTED_AUTHSERV_IDS: z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean),
    )
    .default([]),
  /** Received fields our own servers write above the receiving server's Authentication-Results (consultant-auth.ts). */
  AUTH_RESULTS_RECEIVED_HOPS: wholeNumber(0, 10).default(0),
  /** Security alerts and notices about their own mail, per consultant and hour: outside the loop budget. */
  DESK_ALERTS_PER_HOUR: positiveInt.default(5),
  BUSINESS_HOURS: z.string().trim().optional(),
};

/** What a mail carries by default: under what Gmail (25 MB) and a default Postfix (10 MB) take, base64 included. */
const ATTACH_MAX_BYTES = 10 * 1024 * 1024;
/** Microsoft Graph's sendMail takes requests of up to 4 MB, and the message goes in base64 with its files in base64
 * again: 2 MB of files make a request of 3.6 MB, with room left for the text. */
export const GRAPH_ATTACH_MAX_BYTES = 2 * 1024 * 1024;

export type OutboundConfig = Readonly<{
  smtp?: Readonly<{
    host: string;
    port: number;
    secure: boolean;
    user?: string;
    password?: string;
    poolSize: number;
    /** Mails per session (SMTP_MAX_MESSAGES); undefined: no limit. */
    maxMessages?: number;
    auth: 'password' | 'oauth2';
  }>;
  /** MIME composition on a worker thread (COMPOSE_WORKER). */
  composeWorker: boolean;
  pollMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  maxAttempts: number;
  /** How mail leaves: SMTP (SMTP_HOST), Microsoft Graph (the support mailbox on Graph, no SMTP_HOST), or .eml files
   * (src/outbound/transport.ts). */
  sends: 'smtp' | 'graph' | 'eml';
  /** The files one mail attaches, together, in bytes (src/outbound/notifier-context.ts: files). */
  attachMaxBytes: number;
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

type OutboundEnv = z.output<z.ZodObject<typeof outboundKeys>> & {
  IMAP_USER?: string;
  SUPPORT_MAILBOX_TRANSPORT?: string;
};

const sendsBy = (e: OutboundEnv): OutboundConfig['sends'] =>
  e.SMTP_HOST ? 'smtp' : e.SUPPORT_MAILBOX_TRANSPORT === 'graph' ? 'graph' : 'eml';

/** What the outbound keys cannot be together, each problem naming its key. */
export function outboundProblems(e: OutboundEnv, problems: string[]): void {
  if (sendsBy(e) === 'graph' && (e.MAIL_ATTACH_MAX_BYTES ?? 0) > GRAPH_ATTACH_MAX_BYTES)
    problems.push(
      `MAIL_ATTACH_MAX_BYTES: con el correo de salida por Microsoft Graph, a lo sumo ${GRAPH_ATTACH_MAX_BYTES} ` +
        '(sendMail acepta pedidos de hasta 4 MB, y el correo va en base64 con sus archivos en base64 otra vez)',
    );
}

/** `IMAP_USER`: with SMTP_AUTH=oauth2 and no SMTP_USER, SMTP signs in as the support mailbox. */
export function outboundFrom(e: OutboundEnv): OutboundConfig {
  const sends = sendsBy(e);
  return {
    smtp: e.SMTP_HOST
      ? {
          host: e.SMTP_HOST,
          port: e.SMTP_PORT,
          secure: e.SMTP_SECURE,
          user: e.SMTP_USER ?? (e.SMTP_AUTH === 'oauth2' ? e.IMAP_USER : undefined),
          password: e.SMTP_PASSWORD,
          poolSize: e.SMTP_POOL_SIZE,
          maxMessages: e.SMTP_MAX_MESSAGES,
          auth: e.SMTP_AUTH,
        }
      : undefined,
    composeWorker: e.COMPOSE_WORKER,
    pollMs: e.OUTBOX_POLL_MS,
    retryBaseMs: e.OUTBOX_RETRY_BASE_MS,
    retryMaxMs: e.OUTBOX_RETRY_MAX_MS,
    maxAttempts: e.OUTBOX_MAX_ATTEMPTS,
    sends,
    attachMaxBytes: e.MAIL_ATTACH_MAX_BYTES ?? (sends === 'graph' ? GRAPH_ATTACH_MAX_BYTES : ATTACH_MAX_BYTES),
    budget: { window: e.AUTO_MAIL_LIMIT_WINDOW, windowMinutes: e.AUTO_MAIL_WINDOW_MINUTES, day: e.AUTO_MAIL_LIMIT_DAY },
    bounceSuppressDays: e.BOUNCE_SUPPRESS_DAYS,
    linkTtlDays: e.LINK_TTL_DAYS,
    retentionDays: e.OUTBOX_RETENTION_DAYS,
    trustedAuthservIds: e.TRUSTED_AUTHSERV_IDS,
    authResultsReceivedHops: e.AUTH_RESULTS_RECEIVED_HOPS,
    deskAlertsPerHour: e.DESK_ALERTS_PER_HOUR,
    businessHours: e.BUSINESS_HOURS,
  };
}
