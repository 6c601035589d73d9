import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * The one root logger. Components take `logger.child({ component })`. Anything that could hold a secret or a
 * magic-link token is redacted here, once, rather than trusted to every call site.
 */
export function createLogger(opts: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const options: LoggerOptions = {
    level: opts.level ?? 'info',
    base: { app: 'mesa' },
    redact: {
      paths: [
        'password',
        '*.password',
        'pass',
        '*.pass',
        'accessToken',
        '*.accessToken',
        'token',
        '*.token',
        'secretKey',
        '*.secretKey',
        'monitoringToken',
        '*.monitoringToken',
        '*.*.monitoringToken',
        'auth.pass',
        'auth.accessToken',
        'req.url',
        'req.headers.cookie',
        'req.headers.authorization',
        'url',
        // OAuth2 mailboxes (src/mailboxes/): tokens, client secrets, and the config objects that carry a secret.
        'refreshToken',
        '*.refreshToken',
        'access_token',
        '*.access_token',
        'refresh_token',
        '*.refresh_token',
        'clientSecret',
        '*.clientSecret',
        'client_secret',
        '*.client_secret',
        'credential.clientSecret',
        '*.credential.clientSecret',
        'mailboxes[*].credential.clientSecret',
        'mailboxes[*].password',
        'mailboxes[*].accessToken',
      ],
      censor: '[oculto]',
    },
    serializers: { err: pino.stdSerializers.err },
  };
  return opts.destination ? pino(options, opts.destination as pino.DestinationStream) : pino(options);
}

/** A logger that drops everything, for tests that do not look at logs. */
export const silentLogger: Logger = pino({ level: 'silent' });
