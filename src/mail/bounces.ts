/** What a bounce is read from: its headers (lower-cased name → every value) and the text of the message and
 * delivery report it returns (message/rfc822, text/rfc822-headers, message/delivery-status parts). */
export interface BounceReport {
  headers: ReadonlyMap<string, readonly string[]>;
  embeddedHeaders: string;
}

const ADDRESS = /[^\s<>;,"']+@[^\s<>;,"']+\.[^\s<>;,"']+/g;

/**
 * The addresses a bounce says failed: `Final-Recipient`/`Original-Recipient` of the RFC 3464 report, the
 * `X-Failed-Recipients` header (Exim, Gmail), else the To of our returned message. Pure.
 */
export function failedRecipients(mail: BounceReport): string[] {
  const out = new Set<string>();
  for (const v of mail.headers.get('x-failed-recipients') ?? []) for (const a of v.match(ADDRESS) ?? []) out.add(a.toLowerCase());
  for (const m of mail.embeddedHeaders.matchAll(/^(?:Final|Original)-Recipient:\s*rfc822\s*;\s*(.+)$/gim)) {
    for (const a of m[1].match(ADDRESS) ?? []) out.add(a.toLowerCase());
  }
  if (!out.size) {
    const to = /^To:\s*(.+)$/im.exec(mail.embeddedHeaders)?.[1] ?? '';
    for (const a of to.match(ADDRESS) ?? []) out.add(a.toLowerCase());
  }
  return [...out];
}
