import type { Queryable } from '../db/sql.ts';
import type { Config } from '../config.ts';
import { previousDeliveries } from '../db/repos/ledger.ts';
import { sentMailByIds } from '../db/repos/outbox.ts';
import { failedRecipients, returnedMessageIds } from '../mail/bounces.ts';
import { findTicketByNumber, lockTicketViewsByThreadIds, ticketViewsByThreadIds, viewOf } from '../db/repos/tickets.ts';
import { threadsFromMemory, type ThreadAsk } from '../db/repos/threads-ahead.ts';
import { caseNumberFromSubject } from '../tickets/subject.ts';
import type { TicketView } from '../tickets/types.ts';
import type { FilterContext } from './filters/types.ts';
import type { InboundMail, MailSource } from './mail.ts';

/** What loadContext read: the filters' context, and the cases its thread look-up locked (PostgreSQL), each with
 * whether another transaction changed it while the look-up waited for its lock (lockTicketViewsByThreadIds). */
export type LoadedContext = FilterContext & { lockedCases: ReadonlyMap<number, boolean> };

/**
 * Reads, once and up front, everything the filters may consult, so that the filters stay pure functions of
 * (mail, context). All look-ups go through indexes: the tag by case number, headers by thread id. The cases the
 * headers name are locked as they are read: a reply's case is usually the one it changes (judgeAndApply).
 */
export async function loadContext(
  db: Queryable,
  config: Config,
  mail: InboundMail,
  source: MailSource,
  now: number,
): Promise<LoadedContext> {
  const previous = await previousDeliveries(db, mail.contentHash, mail.messageId);
  const ask = threadAsk(mail);
  const tagged = ask.number;
  // Read ahead with the batch's other mails (lookAheadThreads), or now.
  const memory = threadsFromMemory(db, ask);
  const threads = memory ?? (await lockTicketViewsByThreadIds(db, ask.ids));
  const referencedTickets = threads.views;
  // A reply usually carries both the tag and the headers of one case: the case the headers found is that one.
  const taggedTicket = tagged
    ? (referencedTickets.find((t) => t.number === tagged) ??
      (memory ? memory.tagged : await viewOf(db, await findTicketByNumber(db, tagged))))
    : undefined;
  let embeddedTickets: TicketView[] = [];
  let returnedMail: FilterContext['returnedMail'] = [];
  if (mail.embeddedHeaders) {
    const returned = returnedMessageIds(mail);
    if (returned.length) returnedMail = await sentMailByIds(db, failedRecipients(mail), returned);
    const ids = [...mail.embeddedHeaders.matchAll(/^(?:Message-ID|In-Reply-To|References):\s*(.*)$/gim)]
      .flatMap((m) => m[1].match(/<[^<>\s]+>/g) ?? [])
      .map((s) => s.slice(1, -1));
    embeddedTickets = await ticketViewsByThreadIds(db, ids);
    const embeddedTag = caseNumberFromSubject(/^Subject:\s*(.*)$/im.exec(mail.embeddedHeaders)?.[1] ?? '');
    if (!embeddedTickets.length && embeddedTag) {
      const t = await viewOf(db, await findTicketByNumber(db, embeddedTag));
      if (t) embeddedTickets = [t];
    }
  }
  const earlier: FilterContext['previous'][number][] = [];
  for (const p of previous)
    earlier.push({ contentHash: p.contentHash, messageId: p.messageId, outcome: p.outcome, sourceKey: p.sourceKey });
  return {
    config,
    now,
    source,
    previous: earlier,
    taggedTicket,
    referencedTickets,
    embeddedTickets,
    returnedMail,
    lockedCases: threads.locked,
  };
}

/** What the thread look-up asks for a mail: the Message-IDs of its headers, In-Reply-To first and then the nearest
 * references, and its subject's case number. */
export function threadAsk(mail: InboundMail): ThreadAsk {
  return { ids: [...mail.inReplyTo, ...[...mail.references].reverse()], number: caseNumberFromSubject(mail.subject) };
}
