import { freePort } from './ports.ts';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';

/**
 * A real SMTP server (the `smtp-server` package) in the test process: the outbound sink. It keeps every message
 * it accepted, parsed with mailparser, and can be stopped and started again on the same port (SMTP down, then
 * up) or told to answer 4xx/5xx — for everything, or only for mail whose recipient or subject matches.
 *
 *   const sink = await startSmtpSink();
 *   const app = await testApp({ SMTP_HOST: '127.0.0.1', SMTP_PORT: String(sink.port), SMTP_SECURE: 'false' });
 *   await sink.waitFor((m) => m.subject.includes('[Caso #1]'));
 */
export interface SinkMessage {
  envelopeFrom: string;
  envelopeTo: string[];
  raw: Buffer;
  parsed: ParsedMail;
  subject: string;
  messageId: string;
  to: string;
  text: string;
  html: string;
  header(name: string): string | undefined;
  receivedAt: number;
}

export interface Failure {
  code: number;
  message?: string;
  /** Only mail to this recipient / with a matching subject fails; others pass. */
  recipient?: string;
  subject?: RegExp;
  /** How many times to fail before accepting again (Infinity = until cleared). */
  times?: number;
}

export interface SmtpSink {
  readonly port: number;
  readonly messages: SinkMessage[];
  /** Connection attempts and RCPTs seen, accepted or not. */
  readonly stats: { connections: number; rejected: number };
  /** XOAUTH2 logins (with `oauth2`): the token offered and whether the authorization server called it active. */
  readonly logins: Array<{ user: string; token: string; ok: boolean }>;
  failWith(f: Failure): void;
  clearFailures(): void;
  stop(): Promise<void>;
  start(): Promise<void>;
  waitFor(pred: (m: SinkMessage) => boolean, opts?: { count?: number; timeoutMs?: number }): Promise<SinkMessage[]>;
  to(address: string): SinkMessage[];
  close(): Promise<void>;
}

/**
 * `oauth2`: AUTH XOAUTH2 is required, and the token is checked at the authorization server's introspection endpoint
 * (RFC 7662), as a provider's SMTP submission server does.
 */
export async function startSmtpSink(
  opts: {
    port?: number;
    oauth2?: { introspectionUrl: string };
    /** Mails a session may carry: the next MAIL FROM gets 421, as from a server that caps them (Exchange: 20). */
    messagesPerSession?: number;
  } = {},
): Promise<SmtpSink> {
  const port = opts.port ?? (await freePort());
  const messages: SinkMessage[] = [];
  const stats = { connections: 0, rejected: 0 };
  const logins: Array<{ user: string; token: string; ok: boolean }> = [];
  const oauth2 = opts.oauth2;
  let failures: Failure[] = [];
  let server: SMTPServer | undefined;

  const smtpError = (f: Failure) =>
    Object.assign(new Error(f.message ?? (f.code >= 500 ? 'Rechazado por la prueba' : 'Intente más tarde')), {
      responseCode: f.code,
    });
  const take = (f: Failure) => {
    if (f.times !== undefined && f.times !== Infinity) {
      f.times -= 1;
      if (f.times <= 0) failures = failures.filter((x) => x !== f);
    }
  };

  function build(): SMTPServer {
    return new SMTPServer({
      authOptional: !oauth2,
      disabledCommands: ['STARTTLS'],
      ...(oauth2 ? { authMethods: ['XOAUTH2'], allowInsecureAuth: true } : {}),
      onAuth(auth, _session, cb) {
        if (!oauth2 || auth.method !== 'XOAUTH2') return cb(new Error('Autenticación no admitida'));
        const token = auth.accessToken ?? '';
        fetch(oauth2.introspectionUrl, { method: 'POST', body: new URLSearchParams({ token }) })
          .then((r) => r.json() as Promise<{ active?: boolean; username?: string }>)
          .then(
            (info) => {
              const ok = info.active === true && info.username === auth.username;
              logins.push({ user: auth.username ?? '', token, ok });
              // RFC 7628 §3.2.2: a refused bearer token gets a JSON challenge, then 535.
              cb(null, ok ? { user: auth.username } : { data: { status: '401', schemes: 'bearer', scope: 'smtp' } });
            },
            (err: Error) => cb(err),
          );
      },
      logger: false,
      size: 50 * 1024 * 1024,
      onConnect(_session, cb) {
        stats.connections++;
        cb();
      },
      onMailFrom(_address, session, cb) {
        // session.transaction: the mails this session delivered, plus this one.
        if (opts.messagesPerSession !== undefined && session.transaction > opts.messagesPerSession)
          return cb(smtpError({ code: 421, message: '4.7.0 Demasiados mensajes en esta sesión' }));
        cb();
      },
      onRcptTo(address, _session, cb) {
        const f = failures.find(
          (x) => x.recipient && x.recipient.toLowerCase() === address.address.toLowerCase() && !x.subject,
        );
        if (f) {
          take(f);
          stats.rejected++;
          return cb(smtpError(f));
        }
        cb();
      },
      onData(stream: SMTPServerDataStream, session: SMTPServerSession, cb) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', async () => {
          const raw = Buffer.concat(chunks);
          try {
            const parsed = await simpleParser(raw);
            const subject = parsed.subject ?? '';
            const rcpts = session.envelope.rcptTo.map((r) => r.address.toLowerCase());
            const f = failures.find(
              (x) =>
                (!x.recipient || rcpts.includes(x.recipient.toLowerCase())) &&
                (!x.subject || x.subject.test(subject)) &&
                (x.subject || !x.recipient),
            );
            if (f) {
              take(f);
              stats.rejected++;
              return cb(smtpError(f));
            }
            const to = Array.isArray(parsed.to) ? parsed.to[0] : parsed.to;
            messages.push({
              envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              envelopeTo: rcpts,
              raw,
              parsed,
              subject,
              messageId: (parsed.messageId ?? '').replace(/^<|>$/g, ''),
              to: to?.value?.[0]?.address?.toLowerCase() ?? rcpts[0] ?? '',
              text: parsed.text ?? '',
              html: typeof parsed.html === 'string' ? parsed.html : '',
              header: (name: string) => {
                const v = parsed.headers.get(name.toLowerCase());
                if (v === undefined) return undefined;
                if (typeof v === 'string') return v;
                if (Array.isArray(v)) return v.join(' ');
                if (v instanceof Date) return v.toUTCString();
                const o = v as { text?: string; value?: unknown };
                return typeof o === 'object' && typeof o.text === 'string'
                  ? o.text
                  : typeof o === 'object' && 'value' in o
                    ? String(o.value)
                    : String(v);
              },
              receivedAt: Date.now(),
            });
            cb();
          } catch (err) {
            cb(err as Error);
          }
        });
      },
    });
  }

  async function start(): Promise<void> {
    if (server) return;
    const s = build();
    s.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      s.server.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    server = s;
  }

  async function stop(): Promise<void> {
    const s = server;
    server = undefined;
    if (!s) return;
    // Close open (pooled) client connections too, or a stopped sink would still take mail on them.
    for (const conn of (s as any).connections ?? []) conn?._socket?.destroy?.();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  await start();
  return {
    port,
    messages,
    stats,
    logins,
    failWith(f) {
      failures.push({ times: Infinity, ...f });
    },
    clearFailures() {
      failures = [];
    },
    stop,
    start,
    async waitFor(pred, o = {}) {
      const count = o.count ?? 1;
      const deadline = Date.now() + (o.timeoutMs ?? 20_000);
      for (;;) {
        const found = messages.filter(pred);
        if (found.length >= count) return found;
        if (Date.now() > deadline)
          throw new Error(
            `el sumidero SMTP recibió ${found.length} de ${count} mensajes esperados (total ${messages.length})`,
          );
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    to(address) {
      return messages.filter((m) => m.envelopeTo.includes(address.toLowerCase()));
    },
    close: stop,
  };
}
