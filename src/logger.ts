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
        'password', '*.password', 'pass', '*.pass', 'accessToken', '*.accessToken', 'token', '*.token',
        'secretKey', '*.secretKey', 'auth.pass', 'auth.accessToken', 'req.url', 'req.headers.cookie',
        'req.headers.authorization', 'url',
      ],
      censor: '[oculto]',
    },
    serializers: { err: pino.stdSerializers.err },
  };
  return opts.destination ? pino(options, opts.destination as pino.DestinationStream) : pino(options);
}

/** A logger that drops everything, for tests that do not look at logs. */
export const silentLogger: Logger = pino({ level: 'silent' });
