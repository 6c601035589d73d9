/**
 * Reads an Authentication-Results header field value (RFC 8601 §2.2): the authserv-id, then `;`-separated results,
 * each `method[/version]=result` followed by `reason=…` and `ptype.property=value` pairs. mailauth, which checks
 * DKIM/SPF/DMARC itself, has no public parser for this header, hence this one. Comments (nested, RFC 5322 §3.2.2)
 * are dropped, quoted strings unquoted, spaces around `=` allowed; the result keeps the shape of the values:
 *   `mx.example.net 1; dkim=pass header.d=example.com; spf=fail smtp.mailfrom=x@y`
 *   → { value: 'mx.example.net', version: '1', dkim: [{ value: 'pass', header: { d: 'example.com' } }],
 *       spf: { value: 'fail', smtp: { mailfrom: 'x@y' } } }
 * `dkim` is a list (one result per signature); for any other method repeated, the last one is kept. Method names,
 * results, ptypes and properties are lower-cased; the authserv-id and the values are as written. Pure, never throws.
 */
export interface MethodResult {
  /** pass, fail, none, neutral, policy, temperror, permerror… */
  value: string;
  reason?: string;
  /** By ptype (`header`, `smtp`, `body`, `policy`), property → value: `header.from=example.com` → header.from. */
  [ptype: string]: string | Record<string, string> | undefined;
}

export interface AuthenticationResults {
  /** The authserv-id: who did the checks. */
  value: string;
  version?: string;
  dkim?: MethodResult[];
  [method: string]: string | MethodResult | MethodResult[] | undefined;
}

/** The field value as `;`-separated segments of tokens; comments and the whitespace between tokens removed. */
function segments(field: string): string[][] {
  const out: string[][] = [[]];
  let token = '';
  let quotedToken = false;
  let quoted = false;
  let depth = 0;
  const end = () => {
    if (token || quotedToken) out[out.length - 1].push(token);
    token = '';
    quotedToken = false;
  };
  for (let i = 0; i < field.length; i++) {
    const c = field[i];
    if (quoted) {
      if (c === '\\' && i + 1 < field.length) token += field[++i];
      else if (c === '"') quoted = false;
      else token += c;
    } else if (depth > 0) {
      if (c === '\\') i++;
      else if (c === '(') depth++;
      else if (c === ')') depth--;
    } else if (c === '"') {
      quoted = true;
      quotedToken = true;
    } else if (c === '(') {
      end();
      depth = 1;
    } else if (c === ';') {
      end();
      out.push([]);
    } else if (/\s/.test(c)) {
      end();
    } else {
      token += c;
    }
  }
  end();
  return out.map(joinEquals);
}

/** `key = value` written with spaces (CFWS is allowed around `=`) as one `key=value` token. */
function joinEquals(tokens: string[]): string[] {
  const out: string[] = [];
  for (const t of tokens) {
    const last = out.length ? out[out.length - 1] : undefined;
    if (last !== undefined && (/^[^=]+=$/.test(last) || (t.startsWith('=') && !last.includes('='))))
      out[out.length - 1] = last + t;
    else out.push(t);
  }
  return out;
}

function pair(token: string): [string, string] | undefined {
  const at = token.indexOf('=');
  return at > 0 ? [token.slice(0, at).trim().toLowerCase(), token.slice(at + 1)] : undefined;
}

export function parseAuthenticationResults(field: string): AuthenticationResults {
  const [head, ...results] = segments(field);
  const parsed: AuthenticationResults = Object.create(null);
  parsed.value = head[0] ?? '';
  if (head[1] && /^\d+$/.test(head[1])) parsed.version = head[1];
  for (const tokens of results) {
    const spec = tokens.length ? pair(tokens[0]) : undefined;
    if (!spec) continue; // `none`, or not a result
    const method = spec[0].split('/')[0].trim();
    if (!method || method === 'value' || method === 'version') continue;
    const entry: MethodResult = Object.create(null);
    entry.value = spec[1].toLowerCase();
    for (const token of tokens.slice(1)) {
      const kv = pair(token);
      if (!kv) continue;
      const dot = kv[0].indexOf('.');
      if (dot < 0) {
        if (kv[0] !== 'value') entry[kv[0]] = kv[1];
        continue;
      }
      const ptype = kv[0].slice(0, dot);
      if (ptype === 'value' || ptype === 'reason') continue;
      const props = (typeof entry[ptype] === 'object' ? entry[ptype] : (entry[ptype] = Object.create(null))) as Record<
        string,
        string
      >;
      props[kv[0].slice(dot + 1)] = kv[1];
    }
    if (method === 'dkim') (parsed.dkim ??= []).push(entry);
    else parsed[method] = entry;
  }
  return parsed;
}
