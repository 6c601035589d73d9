import { isIP } from 'node:net';
import { z } from 'zod';

/** Field validators shared by the environment (src/config.ts, config-*.ts) and the optional config file
 * (src/policy/settings-file.ts). */

/** zod's own messages in Spanish, for every key and file an operator writes: passed to each safeParse of the config,
 * so no global setting of zod's changes. The commonest ones in the operator's words first (operatorMessage). */
const zodSpanish = z.locales.es().localeError;
export const IN_SPANISH = { error: (issue: z.core.$ZodRawIssue) => operatorMessage(issue) ?? zodSpanish(issue) };

const EITHER = new Intl.ListFormat('es', { type: 'disjunction' });
const TYPE_NAMES: Record<string, string> = {
  array: 'una lista, p. ej. ["…", "…"]',
  object: 'un grupo de claves',
  string: 'un texto',
  boolean: 'true o false',
};

/**
 * What zod's Spanish says as a translation («Llave desconocida», «se esperaba que número fuera >0», «se esperaba
 * número, recibido texto» for a decimal comma), said as an operator reads it; undefined leaves zod's own.
 */
function operatorMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'unrecognized_keys': {
      const keys = issue.keys.map((k) => `"${k}"`).join(', ');
      return issue.keys.length === 1 ? `clave desconocida: ${keys}` : `claves desconocidas: ${keys}`;
    }
    case 'too_small':
      if (issue.origin !== 'number') return undefined;
      return `debe ser ${issue.inclusive ? 'igual o mayor que' : 'mayor que'} ${issue.minimum}`;
    case 'too_big':
      if (issue.origin !== 'number') return undefined;
      return `debe ser ${issue.inclusive ? 'igual o menor que' : 'menor que'} ${issue.maximum}`;
    case 'invalid_type':
      if (issue.input === undefined) return 'falta (obligatoria)';
      if (issue.expected === 'int') return 'debe ser un número entero';
      if (issue.expected === 'number')
        return typeof issue.input === 'string'
          ? `debe ser un número sin comillas, con punto decimal (p. ej. 0.8), no "${issue.input}"`
          : 'debe ser un número';
      return TYPE_NAMES[issue.expected] ? `debe ser ${TYPE_NAMES[issue.expected]}` : undefined;
    case 'invalid_value':
      return `debe ser ${EITHER.format(issue.values.map((v) => `"${String(v)}"`))}`;
    default:
      return undefined;
  }
}

/** Yes or no, in either language. */
export const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['true', 'false', '1', '0', 'yes', 'no', 'si', 'sí'].includes(v), 'debe ser true o false')
  .transform((v) => ['true', '1', 'yes', 'si', 'sí'].includes(v));
/**
 * A whole number from `min` (to `max`), as an environment key or the config file gives it, with one message in the
 * operator's terms for every way it can be wrong: zod's own («se esperaba número, recibido NaN», «se esperaba que
 * número fuera >=1») names neither the key's range nor what was typed.
 */
export function wholeNumber(min: number, max?: number) {
  const error = `debe ser un número entero ${max === undefined ? `igual o mayor que ${min}` : `de ${min} a ${max}`}`;
  const n = z.coerce.number({ error }).int({ error }).min(min, { error });
  return max === undefined ? n : n.max(max, { error });
}
export const port = wholeNumber(1, 65535);
export const positiveInt = wholeNumber(1);
export const email = z
  .string()
  .trim()
  .toLowerCase()
  .email({ error: (issue) => `«${String(issue.input)}» no es una dirección de correo válida` });

const knownZone = (tz: string) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};
/** An IANA zone. Its names have no accents, and «America/Bogotá» is how a Spanish speaker writes the first one: a
 * name that is a zone once its accents go is taken as that zone. */
export const timezone = z
  .string()
  .trim()
  .transform((tz) => {
    const plain = tz.normalize('NFD').replace(/\p{Mn}/gu, '');
    return !knownZone(tz) && knownZone(plain) ? plain : tz;
  })
  .refine(knownZone, 'zona horaria IANA desconocida (p. ej. America/Bogota)');

/**
 * TRUST_PROXY: which proxies to believe about the client's address (their X-Forwarded-For), as fastify's
 * `trustProxy`: `false` (the default: the address of the connection), `true` (every hop: only when nothing can reach
 * Mesa except through the proxy), a number of hops, or a comma-separated list of addresses and CIDR ranges (also
 * `loopback`, `linklocal`, `uniquelocal`). Behind a balancer without it, every client has the balancer's address,
 * so the per-IP limits of the status page would count everyone together.
 */
export const trustProxy = z
  .string()
  .trim()
  .transform((v, ctx): boolean | number | string[] => {
    const lower = v.toLowerCase();
    if (lower === '' || lower === 'false' || lower === 'no') return false;
    if (lower === 'true' || lower === 'si' || lower === 'sí' || lower === 'yes') return true;
    if (/^\d+$/.test(lower)) return Number(lower);
    const entries = lower
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = entries.filter((e) => !isProxyEntry(e));
    if (bad.length) {
      ctx.addIssue({
        code: 'custom',
        message: `no es una dirección, un rango CIDR ni loopback/linklocal/uniquelocal: ${bad.join(', ')}`,
      });
      return z.NEVER;
    }
    return entries;
  });

function isProxyEntry(entry: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true;
  const [ip, bits, extra] = entry.split('/');
  const family = isIP(ip);
  if (!family || extra !== undefined) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

/**
 * SECRET_KEY signs every magic link and Message-ID: whoever guesses it opens every case. Length alone says little
 * ("x" 40 times is long), so a key must also look random: enough distinct characters, no repeated stretch, and an
 * estimated entropy of at least MIN_KEY_BITS. The estimate is the smaller of the Shannon entropy of its characters
 * and of the steps between neighbours (which also sees "abcdef…" and "0123…"), times its length: a generous
 * upper bound for a human-chosen key, and far above the threshold for `openssl rand -hex 32` (about 220 bits).
 */
const MIN_KEY_LENGTH = 32;
/** Low enough that no random hex key of 16 bytes falls under it (one in 10,000 has only 8 or 9 distinct digits). */
const MIN_DISTINCT = 6;
const MIN_KEY_BITS = 80;

export function weakKeyReason(key: string): string | undefined {
  const chars = [...key];
  const advice = 'genere una con: openssl rand -hex 32';
  if (chars.length < MIN_KEY_LENGTH) return `debe tener al menos ${MIN_KEY_LENGTH} caracteres (${advice})`;
  const distinct = new Set(chars).size;
  if (distinct < MIN_DISTINCT) return `es demasiado predecible: solo ${distinct} caracteres distintos (${advice})`;
  if (repeatsItself(chars)) return `es demasiado predecible: repite un mismo trozo (${advice})`;
  const codes = chars.map((c) => c.codePointAt(0)!);
  const steps = codes.slice(1).map((c, i) => c - codes[i]);
  const bits = Math.min(shannon(chars) * chars.length, shannon(steps) * steps.length);
  if (bits < MIN_KEY_BITS)
    return `es demasiado predecible: entropía estimada ${Math.floor(bits)} bits, se piden ${MIN_KEY_BITS} (${advice})`;
  return undefined;
}

/** The key is some shorter piece written again and again (the last copy may be cut short). */
function repeatsItself(chars: string[]): boolean {
  for (let period = 1; period <= chars.length / 2; period++) {
    let same = true;
    for (let i = period; i < chars.length && same; i++) same = chars[i] === chars[i - period];
    if (same) return true;
  }
  return false;
}

function shannon(items: ReadonlyArray<string | number>): number {
  const counts = new Map<string | number, number>();
  for (const x of items) counts.set(x, (counts.get(x) ?? 0) + 1);
  let h = 0;
  for (const c of counts.values()) h -= (c / items.length) * Math.log2(c / items.length);
  return h;
}

export const secretKey = z.string().superRefine((key, ctx) => {
  const why = weakKeyReason(key);
  if (why) ctx.addIssue({ code: 'custom', message: why });
});

/**
 * Whether a processed folder names the folder being read: each recorded mail moved there would arrive again (a new
 * UID in IMAP, a new item in Graph's delta), be read again and moved again, without end. Compared without case:
 * IMAP's INBOX is case-insensitive (RFC 3501 §5.1), and Exchange and Gmail treat every name so.
 */
export function isReadFolder(processed: string, read: string): boolean {
  return processed.trim().toLowerCase() === read.trim().toLowerCase();
}

/** The problem of a processed folder (`key`) that is the folder read (`readKey=folder`), in the operator's words. */
export function readFolderProblem(key: string, readKey: string, folder: string): string {
  return (
    `${key}: es la carpeta que Mesa lee (${readKey}=${folder}): cada correo registrado volvería a ella y se leería ` +
    'otra vez, sin fin; use otra carpeta (p. ej. Procesados) o quite la clave'
  );
}

/** How Microsoft 365 names the inbox (Graph's `inbox`) in the languages of our customers' tenants. */
export const INBOX_DISPLAY_NAMES = ['inbox', 'bandeja de entrada', 'caixa de entrada'];
