import type { Db } from '../db/knex.ts';
import type { Queryable } from '../db/sql.ts';
import { memoKey, UnitOfWork } from '../db/unit-of-work.ts';
import * as repo from '../db/repos/links.ts';
import { boundedMemo } from '../memo.ts';
import type { Ticket } from '../tickets/types.ts';
import { noteIssuedLink } from './sealed.ts';
import { LINK_PATH, linkMac, makeToken, parseToken, sameMac, tokenHash } from './tokens.ts';

/**
 * Magic links behind "Consultar mi caso" (issue 4 builds the page): one per case and recipient, HMAC-signed with
 * SECRET_KEY, bound to the case and the recipient, with an expiry; stored hashed; revocable per link and per
 * case; rotated when a closed case is reopened (the notifier revokes the case's links, the next mail issues new).
 */
const DAY = 86_400_000;
/** A mail never carries a link that dies within this margin: a fresh generation is issued instead. */
const MIN_REMAINING = 7 * DAY;

export interface LinkSettings {
  secretKey: string;
  publicUrl: string;
  ttlDays: number;
}

export type VerifyResult =
  | {
      ok: true;
      ticketId: number;
      number: number;
      recipient: string;
      linkId: number;
      lastUsedAt?: number;
      /** The case, read with the link: the page the link opens needs it next. */
      ticket: Ticket;
    }
  | { ok: false; reason: 'malformed' | 'forged' | 'expired' | 'revoked' };

export function linkUrl(publicUrl: string, token: string): string {
  return `${publicUrl.replace(/\/+$/, '')}${LINK_PATH}${token}`;
}

export interface IssueParams {
  ticketId: number;
  number: number;
  recipient: string;
  now: number;
  /**
   * The recipient has no link on this case yet: the case was opened in this transaction and this is its first
   * link for them. There is nothing to look up then, so the link is one INSERT of generation 1 (a wrong promise
   * fails on the (ticket, recipient, generation) unique index, it does not hand out a second link).
   */
  fresh?: boolean;
  /** The recipient's link generations on the case, newest first, when the caller has just read them (with the thread
   * of the mail that carries the link, src/outbound/outbox-thread.ts readWithLink): not read again. */
  generations?: Generations;
}

/** The token of a link already issued: the same HMAC for every mail to that recipient on that case (a consultant
 * gets one per follow-up), remembered for the last few. */
const tokenOf = boundedMemo(
  1000,
  (secret: string, number: number, recipient: string, generation: number, expiresAt: number) =>
    `${secret}\0${number}\0${recipient}\0${generation}\0${expiresAt}`,
  (secret: string, number: number, recipient: string, generation: number, expiresAt: number) =>
    makeToken(secret, { number, recipient, generation, expiresAt }),
);

/** The URL for `recipient` on the case: the current link when it has life left, else a new generation. */
export async function issueLink(trx: Queryable, s: LinkSettings, p: IssueParams): Promise<string> {
  const recipient = p.recipient.toLowerCase();
  // The newest link neither revoked nor dying within the margin, else a generation after the last one.
  const links: Generations = p.fresh ? [] : (p.generations ?? (await repo.linkGenerations(trx, p.ticketId, recipient)));
  const current = currentLinkUrl(s, { ...p, recipient }, links);
  if (current) return current;
  const generation = (links[0]?.generation ?? 0) + 1;
  const expiresAt = Math.floor((p.now + s.ttlDays * DAY) / 1000) * 1000;
  const token = makeToken(s.secretKey, { number: p.number, recipient, generation, expiresAt });
  await repo.insertLink(trx, {
    ticketId: p.ticketId,
    recipient,
    generation,
    tokenHash: tokenHash(token),
    expiresAt,
    now: p.now,
  });
  return noted(linkUrl(s.publicUrl, token), { number: p.number, recipient, generation, expiresAt });
}

type Generations = ReturnType<typeof repo.generationsOf>;

/** The URL of the newest link of `links` neither revoked nor dying within the margin, if there is one. */
function currentLinkUrl(
  s: LinkSettings,
  p: { number: number; recipient: string; now: number },
  links: Generations,
): string | undefined {
  const validAfter = p.now + Math.min(MIN_REMAINING, (s.ttlDays * DAY) / 2);
  const current = links.find((l) => l.revokedAt === undefined && l.expiresAt > validAfter);
  if (!current) return undefined;
  const { generation, expiresAt } = current;
  return noted(linkUrl(s.publicUrl, tokenOf(s.secretKey, p.number, p.recipient, generation, expiresAt)), {
    number: p.number,
    recipient: p.recipient,
    generation,
    expiresAt,
  });
}

/**
 * One recipient's links to several cases (a page of the case list): the current ones read in one statement without
 * a transaction; one transaction, only when some case needs a new generation, issues those.
 */
export async function linksForCases(
  db: Db,
  s: LinkSettings,
  cases: ReadonlyArray<{ id: number; number: number }>,
  p: { recipient: string; now: number },
): Promise<Map<number, string>> {
  const recipient = p.recipient.toLowerCase();
  const out = new Map<number, string>();
  const known = await repo.linkGenerationsOfCases(
    db,
    cases.map((c) => c.id),
    recipient,
  );
  const missing: Array<{ id: number; number: number }> = [];
  for (const c of cases) {
    const url = currentLinkUrl(s, { number: c.number, recipient, now: p.now }, known.get(c.id) ?? []);
    if (url) out.set(c.id, url);
    else missing.push(c);
  }
  if (missing.length)
    await db.transaction(async (trx) => {
      for (const c of missing)
        out.set(c.id, await issueLink(trx, s, { ticketId: c.id, number: c.number, recipient, now: p.now }));
    });
  return out;
}

/** The outbox seals the link when it stores the mail that carries it (sealed.ts): it need not check its MAC again. */
function noted(url: string, p: { number: number; recipient: string; generation: number; expiresAt: number }): string {
  noteIssuedLink(url, p);
  return url;
}

/**
 * Checks a token from a URL. `forged` covers both "never issued" and "wrong MAC" so that the page can answer a
 * plain 404 without saying whether the case exists; `expired`/`revoked` are only reported for tokens that we did
 * issue (their MAC checks), so the page may offer a fresh link to the case's own address.
 */
export async function verifyToken(db: Queryable, secretKey: string, token: string, now: number): Promise<VerifyResult> {
  const parts = typeof token === 'string' && token.length < 100 ? parseToken(token) : undefined;
  if (!parts) return { ok: false, reason: 'malformed' };
  const found = await repo.findLinkWithTicketByHash(db, tokenHash(token));
  if (!found) return { ok: false, reason: 'forged' };
  const row = found.link;
  const expected = linkMac(secretKey, {
    number: row.number,
    recipient: row.recipient,
    generation: row.generation,
    expiresAt: row.expiresAt,
  });
  if (
    !sameMac(expected, parts.mac) ||
    parts.number !== row.number ||
    parts.generation !== row.generation ||
    parts.expiresAt !== row.expiresAt
  ) {
    return { ok: false, reason: 'forged' };
  }
  if (row.revokedAt !== undefined) return { ok: false, reason: 'revoked' };
  if (row.expiresAt <= now) return { ok: false, reason: 'expired' };
  return {
    ok: true,
    ticketId: row.ticketId,
    number: row.number,
    recipient: row.recipient,
    linkId: row.id,
    lastUsedAt: row.lastUsedAt,
    ticket: found.ticket,
  };
}

export async function revokeLink(db: Queryable, linkId: number, now: number, reason = 'revoked'): Promise<boolean> {
  return (await repo.revokeLinkRow(db, linkId, now, reason)) > 0;
}

export async function revokeCaseLinks(
  db: Queryable,
  ticketId: number,
  now: number,
  reason = 'revoked',
): Promise<number> {
  return repo.revokeLinksOfTicket(db, ticketId, now, reason);
}

/** Every link of one person on a case (taken off the case): the page answers them as revoked. */
export async function revokeRecipientLinks(
  db: Queryable,
  ticketId: number,
  recipient: string,
  now: number,
  reason = 'revoked',
): Promise<number> {
  return repo.revokeLinksOfRecipient(db, ticketId, recipient.toLowerCase(), now, reason);
}

export async function touchLink(db: Queryable, linkId: number, now: number): Promise<void> {
  await repo.touchLinkRow(db, linkId, now);
}

export function linkSettings(config: {
  secretKey: string;
  publicUrl: string;
  outbound: { linkTtlDays: number };
}): LinkSettings {
  return { secretKey: config.secretKey, publicUrl: config.publicUrl, ttlDays: config.outbound.linkTtlDays };
}

/**
 * The same operations bound to one config, as the composition root hands them out (`app.links`): the web page
 * calls `verifyToken(db, token, now)`, the notifier `issueLink(trx, {...})`.
 */
/** (case, recipient) pairs a unit of work issued a link for; a mail's (child unit's) join its batch's when it
 * succeeds. */
const ISSUED_LINKS = memoKey(
  'links.issued',
  () => new Set<string>(),
  (parent) => new Set(parent),
);

export class LinkService {
  constructor(readonly settings: LinkSettings) {}

  /**
   * `fresh`: the case was opened in this transaction (see IssueParams). Only the first link per recipient takes
   * the one-INSERT path: a second one in the same transaction (the requester is also a consultant) looks up the
   * first as before. Remembered for the whole unit of work (ISSUED_LINKS): a mail's links count for the batch too.
   */
  issueLink(q: Queryable, p: IssueParams): Promise<string> {
    // Outside a unit of work there is no "this transaction" to speak of, nor anything to remember.
    if (!(q instanceof UnitOfWork)) return issueLink(q, this.settings, { ...p, fresh: false });
    const seen = q.memo(ISSUED_LINKS);
    const key = `${p.ticketId}\0${p.recipient.toLowerCase()}`;
    const fresh = Boolean(p.fresh) && !seen.has(key);
    seen.add(key);
    return issueLink(q, this.settings, { ...p, fresh });
  }
  linksForCases(
    db: Db,
    cases: ReadonlyArray<{ id: number; number: number }>,
    p: { recipient: string; now: number },
  ): Promise<Map<number, string>> {
    return linksForCases(db, this.settings, cases, p);
  }
  verifyToken(db: Queryable, token: string, now: number): Promise<VerifyResult> {
    return verifyToken(db, this.settings.secretKey, token, now);
  }
  revokeLink(db: Queryable, linkId: number, now: number, reason?: string): Promise<boolean> {
    return revokeLink(db, linkId, now, reason);
  }
  revokeCaseLinks(db: Queryable, ticketId: number, now: number, reason?: string): Promise<number> {
    return revokeCaseLinks(db, ticketId, now, reason);
  }
  touchLink(db: Queryable, linkId: number, now: number): Promise<void> {
    return touchLink(db, linkId, now);
  }
}
