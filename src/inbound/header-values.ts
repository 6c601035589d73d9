import type { AddressObject } from 'mailparser';
import type { Address } from './mail.ts';
import type { ParsedMime } from './mime-stream.ts';

/**
 * Header values as a stranger wrote them, made into what Mesa keeps: the header map, addresses (groups opened, no
 * address without an @), Message-ID lists, the envelope recipients an MTA recorded, and no NUL anywhere.
 */

/**
 * Where a raw source's header block ends and its body begins: at its first empty line (RFC 5322 §2.1), CRLF or, in a
 * source that uses bare LF, LF, whichever comes first. Undefined when there is no empty line (no body).
 */
export function headerBlockEnd(raw: Buffer): { end: number; body: number } | undefined {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  if (lf >= 0 && (crlf < 0 || lf < crlf)) return { end: lf, body: lf + 2 };
  return crlf < 0 ? undefined : { end: crlf, body: crlf + 4 };
}

export function headerMap(parsed: ParsedMime): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const { key, line } of parsed.headerLines ?? []) {
    const idx = line.indexOf(':');
    const value = noNul((idx >= 0 ? line.slice(idx + 1) : '').replace(/\r?\n[ \t]+/g, ' ').trim());
    const list = map.get(key.toLowerCase());
    if (list) list.push(value);
    else map.set(key.toLowerCase(), [value]);
  }
  return map;
}

export function addresses(obj: AddressObject | AddressObject[] | undefined): Address[] {
  const list = Array.isArray(obj) ? obj : obj ? [obj] : [];
  const out: Address[] = [];
  const walk = (entries: { address?: string; name?: string; group?: any[] }[]) => {
    for (const e of entries) {
      if (e.group) walk(e.group);
      else if (e.address && e.address.includes('@'))
        out.push({ address: noNul(e.address).trim().toLowerCase(), name: noNul(e.name ?? '').trim() });
    }
  };
  for (const o of list) walk(o.value ?? []);
  return out;
}

export function firstAddress(obj: AddressObject | AddressObject[] | undefined): Address | undefined {
  return addresses(obj)[0];
}

/** The Message-IDs of an In-Reply-To or References header, without brackets. A value with no bracketed id is taken
 * whole; an id longer than a header line may be (RFC 5322 §2.1.1, 998 characters) is dropped. */
export function idList(v: string | string[] | undefined): string[] {
  const values = Array.isArray(v) ? v : v ? [v] : [];
  return values
    .flatMap((value) => value.match(/<[^<>\s]+>/g) ?? [value])
    .map((s) => stripBrackets(s.trim()))
    .filter((id) => id.length > 0 && id.length < 998);
}

/** Delivered-To, X-Original-To, Envelope-To and X-Envelope-To: where the MTA actually put the mail. */
export function deliveredTo(headers: Map<string, string[]>): string[] {
  return DELIVERY_HEADERS.flatMap((name) => headers.get(name) ?? [])
    .flatMap((value) => value.split(','))
    .map((part) => stripBrackets(part.trim()).toLowerCase())
    .filter((address) => address);
}
const DELIVERY_HEADERS = ['delivered-to', 'x-original-to', 'envelope-to', 'x-envelope-to'];

/** PostgreSQL text cannot hold U+0000 and no person typed one: NUL bytes from broken or hostile mail go. */
export function noNul(s: string): string {
  return s.includes('\u0000') ? s.replace(/\u0000/g, '') : s;
}

/**
 * References grows by one id per reply; hostile or endlessly forwarded mail carries thousands (one had 1500, and
 * storing them all overflowed SQLite's compound-select limit). RFC 5322 §3.6.4 lets a long list be trimmed, and
 * the convention it inherits (RFC 1036 §2.2.5) keeps the first id, the thread's root, and the most recent ones.
 */
const MAX_REFERENCES = 100;
export function trimReferences(ids: string[]): string[] {
  const unique = [...new Set(ids)];
  return unique.length <= MAX_REFERENCES ? unique : [unique[0], ...unique.slice(-(MAX_REFERENCES - 1))];
}

/** An id or address without its angle brackets. By index, not `/>+$/`: that pattern retries from every `>` of a run
 * that does not end the value, and a header of `>>>>…x` took the parse thread to its time limit. */
export function stripBrackets(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && s[start] === '<') start++;
  while (end > start && s[end - 1] === '>') end--;
  return s.slice(start, end).trim();
}
