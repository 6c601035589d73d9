import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { SendMailOptions } from 'nodemailer';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { composeMessage } from './compose.ts';
import { GraphTransport } from './graph-transport.ts';

/**
 * Where mail leaves: pooled SMTP through nodemailer (SMTP_HOST set), or, for the demo and for one-machine setups,
 * `.eml` files under DATA_DIR/outbox-eml (one per outbox row, written atomically; a resend overwrites the same
 * file, as the same Message-ID would be resent over SMTP).
 */
export interface MailTransport {
  readonly kind: 'smtp' | 'eml' | 'graph';
  send(msg: SendMailOptions & { rowId: number }): Promise<{ response?: string; file?: string }>;
  close(): void;
}

/** Where SMTP_AUTH=oauth2 takes its access tokens: the support mailbox's, kept fresh by src/mailboxes/. */
export interface SmtpTokenSource {
  accessToken(
    mailbox: 'support' | 'fallback',
    opts?: { renew?: boolean; refused?: string },
  ): Promise<{ token: string; expiresAt: number }>;
}

export function createTransport(config: Config, log: Logger, tokens?: SmtpTokenSource): MailTransport {
  const smtp = config.outbound.smtp;
  // The support mailbox on Microsoft Graph and no SMTP server: mail leaves by Graph's sendMail (./graph-transport.ts).
  const graph = config.mailboxes.find((mb) => mb.name === 'support')?.graph;
  if (config.outbound.sends === 'graph' && graph && tokens) return new GraphTransport(graph, tokens, log);
  if (!smtp) return new EmlTransport(path.join(config.dataDir, 'outbox-eml'));
  const oauth2 = smtp.auth === 'oauth2' && tokens;
  // nodemailer's own info lines (each connection opened and closed, two per mail, and «Using proxied socket» for the
  // connections connectWithoutDelay opens) repeat what the dispatcher logs per mail: they show with LOG_LEVEL=debug.
  const smtpLog = log.child({ component: 'smtp' });
  if (smtpLog.isLevelEnabled('info') && !smtpLog.isLevelEnabled('debug')) smtpLog.level = 'warn';
  const transporter = nodemailer.createTransport({
    pool: true,
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    auth: oauth2
      ? { type: 'OAuth2', user: smtp.user! }
      : smtp.user
        ? { user: smtp.user, pass: smtp.password ?? '' }
        : undefined,
    maxConnections: smtp.poolSize,
    // A new session costs the TCP and TLS handshakes, the greeting, EHLO and AUTH: several round trips to the provider
    // for each. nodemailer's pool closes a session after 100 mails unless told otherwise; Mesa keeps it while there is
    // mail to send (an idle one closes after socketTimeout). A server that caps mails per session answers the next
    // one with 4xx: nodemailer closes that session and the dispatcher retries the mail (SMTP_MAX_MESSAGES avoids it).
    maxMessages: smtp.maxMessages ?? Infinity,
    getSocket: connectWithoutDelay,
    greetingTimeout: 15_000,
    socketTimeout: 60_000,
    logger: smtpLog as any,
    debug: false,
  });
  if (oauth2) {
    // nodemailer asks for a token for each new SMTP session (XOAUTH2), and again with `renew` when the server refused
    // the one it had. Which one it had it does not say (each pooled connection keeps its own), so a renewal refreshes
    // only a token that is not itself brand new; a session refused again simply leaves its mail for the next attempt.
    transporter.set(
      'oauth2_provision_cb',
      (_user: string, renew: boolean, cb: (err: Error | null, token?: string, expires?: number) => void) => {
        tokens.accessToken('support', renew ? { renew: true } : {}).then(
          (t) => {
            // Asked again a little before expiry (0 would mean "never expires" to nodemailer).
            cb(null, t.token, Math.max(1, t.expiresAt - Math.min(30_000, (t.expiresAt - Date.now()) / 2)));
          },
          (err: Error) => cb(err),
        );
      },
    );
  }
  return {
    kind: 'smtp',
    async send(msg) {
      const { rowId: _rowId, ...options } = msg;
      const info = await transporter.sendMail(options);
      return { response: info.response };
    },
    close() {
      transporter.close();
    },
  };
}

/**
 * Opens the SMTP connection with Nagle's algorithm off (TCP_NODELAY), through nodemailer's `getSocket` hook (the one
 * its documentation uses for proxies). A mail's DATA ends with a short write (its last bytes and the `.` line) right
 * after long ones; with Nagle on, that write waits until the server acknowledges the earlier data, and a server that
 * delays its ACKs (40 ms on Linux, 200 ms on Windows) makes every mail of a connection wait that long.
 *
 * The socket is handed over while it connects: nodemailer waits for the server's greeting (greetingTimeout, which also
 * bounds a connection that never completes: nodemailer's connectionTimeout ends when it takes the socket), upgrades
 * the connection to TLS for SMTP_SECURE or STARTTLS, and sees a refused or failed connection as the socket's own
 * error, as with the connections it opens itself. (Failing the hook instead leaves nodemailer's pool waiting forever
 * for the mail queued behind the failed connection.)
 */
export function connectWithoutDelay(
  options: { host?: string; port?: number; secure?: boolean },
  callback: (err: Error | null, socketOptions: { connection: net.Socket }) => void,
): void {
  const connection = net.connect({
    host: options.host ?? 'localhost',
    port: options.port ?? (options.secure ? 465 : 587),
    noDelay: true,
    keepAlive: true,
  });
  callback(null, { connection });
}

export class EmlTransport implements MailTransport {
  readonly kind = 'eml' as const;
  constructor(readonly dir: string) {}

  async send(msg: SendMailOptions & { rowId: number }): Promise<{ file: string }> {
    const { rowId, ...options } = msg;
    const message = await composeMessage(options);
    fs.mkdirSync(this.dir, { recursive: true });
    const file = path.join(this.dir, `${String(rowId).padStart(6, '0')}.eml`);
    const tmp = `${file}.tmp`;
    fs.writeFileSync(tmp, message);
    fs.renameSync(tmp, file);
    return { file };
  }

  close(): void {}
}
