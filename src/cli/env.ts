import dotenv from 'dotenv';
import { loadConfig, type Config } from '../config.ts';
import { isMesaError } from '../errors.ts';
import { createLogger, type Logger } from '../logger.ts';

/** Exit codes from sysexits.h, which MTAs understand when they pipe mail into `mesa ingest -`. */
export const EXIT = {
  OK: 0,
  USAGE: 64,
  DATAERR: 65,
  NOINPUT: 66,
  SOFTWARE: 70,
  TEMPFAIL: 75,
  CONFIG: 78,
  /** The reader of the output went away (`mesa tickets | head`): 128 + SIGPIPE, what a shell reports for `cat`. */
  PIPE: 141,
} as const;

/** A case number or quarantine ID as typed («12» or «#12»); undefined, after saying it is not `what`, otherwise. */
export function idArgument(arg: string, what: string): number | undefined {
  const id = Number(String(arg).replace(/^#/, ''));
  // Past 2^53 a number no longer names one id (it would be printed back as «1e+23»).
  if (Number.isSafeInteger(id) && id > 0) return id;
  process.stderr.write(`mesa: "${arg}" no es ${what}\n`);
  return undefined;
}

/** Reads `.env` (without overriding the real environment) and validates it once; a bad key ends the process
 * with every problem named. */
export function configFromEnvironment(overrides: Record<string, string> = {}): Config {
  dotenv.config({ quiet: true } as dotenv.DotenvConfigOptions);
  try {
    return loadConfig({ ...overrides, ...process.env });
  } catch (err) {
    if (isMesaError(err, 'CONFIG_INVALID')) {
      process.stderr.write(`mesa: ${err.message}\nRevise el archivo .env (ver .env.example).\n`);
      process.exit(EXIT.CONFIG);
    }
    throw err;
  }
}

/** CLI commands log to stderr, so that stdout stays for their output (and --json). */
export function cliLogger(config: Config): Logger {
  return createLogger({
    level: process.env.LOG_LEVEL ?? (process.stderr.isTTY ? 'warn' : config.logLevel),
    destination: process.stderr,
  });
}
