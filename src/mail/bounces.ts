import { headerFields } from './header-fields.ts';

/**
 * Reading a bounce (RFC 3464 delivery status notification, and the older forms servers still send). Pure.
 *
 * What a bounce SAYS failed (`failedRecipients`) is only a claim: anyone can write a report naming anyone. What it
 * PROVES is in the returned message (`returnedMessageIds`): the text/rfc822-headers or message/rfc822 part of the
 * report (RFC 3464 §2, RFC 6522) carries the Message-ID of the mail that failed, and each of our mails has its own
 * Message-ID per recipient, known only to that recipient, their servers and us.
 */
/** What a bounce is read from: its headers (lower-cased name → every value) and the text of the message and
 * delivery report it returns (message/rfc822, text/rfc822-headers, message/delivery-status parts). */
export interface BounceReport {
  headers: ReadonlyMap<string, readonly string[]>;
  embeddedHeaders: string;
}

/** What separates the addresses of a list (spaces, brackets, quotes, commas, semicolons). */
const SEPARATOR = /[\s<>;,"']+/;

/**
 * The addresses in a header value: each run between separators with one `@`, something before it and a dot inside
 * what follows. One pass over the value, never a regular expression that tries every split of a run: a forged
 * `X-Failed-Recipients: a@a@a@…` of a few KB held the thread that judges every mail for minutes.
 */
function addressesIn(value: string): string[] {
  return value.split(SEPARATOR).filter((run) => {
    const at = run.indexOf('@');
    const dot = run.indexOf('.', at + 2);
    return at > 0 && at === run.lastIndexOf('@') && dot !== -1 && dot < run.length - 1;
  });
}

/**
 * The addresses a bounce says failed: `Final-Recipient`/`Original-Recipient` of the RFC 3464 report, the
 * `X-Failed-Recipients` header (Exim, Gmail), else the To of our returned message. Pure.
 */
export function failedRecipients(mail: BounceReport): string[] {
  const out = new Set<string>();
  for (const v of mail.headers.get('x-failed-recipients') ?? [])
    for (const a of addressesIn(v)) out.add(a.toLowerCase());
  for (const m of mail.embeddedHeaders.matchAll(/^(?:Final|Original)-Recipient:\s*rfc822\s*;(.*)$/gim)) {
    for (const a of addressesIn(m[1])) out.add(a.toLowerCase());
  }
  if (!out.size) {
    // The To field with its folded continuation lines (RFC 5322 §2.2.3).
    const to = /^To:(.*(?:\r?\n[ \t].*)*)/im.exec(mail.embeddedHeaders)?.[1] ?? '';
    for (const a of addressesIn(to)) out.add(a.toLowerCase());
  }
  return [...out];
}

/** The parts of a report that return (the header of) the failed message; RFC 6533 names the internationalized ones. */
const RETURNED = new Set(['message/rfc822', 'text/rfc822-headers', 'message/global', 'message/global-headers']);

/**
 * The Message-IDs (without angle brackets) in the header block of each returned message of a bounce: only the
 * Message-ID field of that header, never its References or its body, which quote other mail.
 */
export function returnedMessageIds(mail: {
  attachments: ReadonlyArray<{ contentType: string; content?: Buffer }>;
}): string[] {
  const out = new Set<string>();
  for (const a of mail.attachments) {
    if (!RETURNED.has(a.contentType) || !a.content) continue;
    for (const f of headerFields(a.content, 64 * 1024)) {
      if (f.name !== 'message-id') continue;
      const id = /<([^<>\s]+)>/.exec(f.value)?.[1] ?? f.value.trim();
      if (id && id.length <= 998) out.add(id);
    }
  }
  return [...out];
}
