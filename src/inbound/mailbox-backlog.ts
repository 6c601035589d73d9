import type { ImapFlow, MailboxObject } from 'imapflow';
import type { MailboxConfig } from '../config.ts';

/**
 * Where the first read of a mailbox starts (MAILBOX_BACKLOG_DAYS). A support mailbox that Mesa starts reading usually
 * holds months or years of mail that people already answered by hand: taking it all would open a case for each one
 * and send every one of those customers a confirmation of a case they closed long ago. The first read takes only
 * what reached the mailbox in the last `backlogDays` days; the rest stays where it is, unread by Mesa, not moved.
 *
 * «Reached the mailbox» is the server's own arrival time (IMAP's INTERNALDATE, Graph's receivedDateTime), never the
 * Date field, which the sender writes. Only the first read: afterwards every new mail is taken, however old its dates.
 * The cut is recorded (mailbox_state.backlog_before) so that a Graph delta started afresh leaves out the same mail.
 */

const DAY_MS = 86_400_000;
/** INTERNALDATEs asked in one FETCH while looking for the first mail after the cut. */
const ARRIVALS_PER_FETCH = 200;

/** The instant before which mail already in the mailbox is left there; undefined when everything is taken. */
export function backlogBefore(days: MailboxConfig['backlogDays'], now: number): number | undefined {
  return days === 'all' ? undefined : now - days * DAY_MS;
}

/**
 * The last_uid the first IMAP read starts above: just below the first mail that arrived at or after `before`, so
 * that nothing recent is skipped even if an older mail (copied in later) has a higher UID; that one is taken too.
 * SINCE (RFC 3501 §6.4.4) compares only the date of INTERNALDATE, so the candidates' INTERNALDATE is fetched to cut at
 * the instant.
 */
export async function firstReadLastUid(
  client: ImapFlow,
  box: Pick<MailboxObject, 'exists' | 'uidNext'>,
  before: number | undefined,
): Promise<number> {
  if (before === undefined || box.exists === 0) return 0;
  const candidates = ((await client.search({ since: new Date(before) }, { uid: true })) || []).sort((a, b) => a - b);
  // Only mail of the cut's own day can have arrived before the cut: look at the candidates in order, a few at a time
  // (a mailbox may hold years of mail since the cut with a large MAILBOX_BACKLOG_DAYS), until one arrived after it.
  for (let i = 0; i < candidates.length; i += ARRIVALS_PER_FETCH) {
    const chunk = candidates.slice(i, i + ARRIVALS_PER_FETCH);
    const arrived = new Map<number, number>();
    for await (const m of client.fetch(chunk.join(','), { uid: true, internalDate: true }, { uid: true }))
      arrived.set(m.uid, m.internalDate ? new Date(m.internalDate).getTime() : Number.POSITIVE_INFINITY);
    const first = chunk.find((uid) => (arrived.get(uid) ?? Number.POSITIVE_INFINITY) >= before);
    if (first !== undefined) return first - 1;
  }
  // Nothing arrived since: start at the next mail to arrive (UIDNEXT; RFC 3501 §2.3.1.1).
  if (box.uidNext) return Number(box.uidNext) - 1;
  const all = (await client.search({ all: true }, { uid: true })) || [];
  return all.reduce((max, uid) => Math.max(max, uid), 0);
}

/** The `$filter` of a Graph delta query from scratch (message delta takes one on receivedDateTime, ge or gt). */
export function graphBacklogFilter(before: number): string {
  return `receivedDateTime ge ${new Date(before).toISOString()}`;
}
