import { memoKey, UnitOfWork } from '../unit-of-work.ts';
import type { Queryable } from '../sql.ts';

/**
 * The loop budget read ahead (loopBudgetOf in outbox-budget.ts): in the ingest's batch, what the budget asks about the
 * senders of the mails parsed before their turn is read in the statement of the first notice that asks, and the later
 * notices to those addresses answer from here. State of the unit of work, under its memo keys: no other hand-off.
 */

/** A mail of the batch ready after the current one: its sender, as notices to it are addressed, and its time. */
export interface MailAhead {
  address: string;
  now: number;
}

/** One address's question to the budget: its two windows and the time a bounce stop must be in force at. */
export interface BudgetAsk {
  recipient: string;
  windowSince: number;
  daySince: number;
  at: number;
}

/**
 * What a read ahead found for one address, valid for the questions whose windows start within the read's spans:
 * `inWindow`/`inDay` count the rows since the latest start (`windowTo`, `dayTo`); `edge` holds the created_at of the
 * rows between the earliest and the latest start of either window, so that any start in between counts exactly
 * (the mails of a batch have times a moment apart: few rows there, however many the address has). `stop`: the
 * suppression ending after `stopFrom`, if any (one per address).
 */
export interface BudgetRead {
  windowFrom: number;
  windowTo: number;
  dayFrom: number;
  dayTo: number;
  stopFrom: number;
  inWindow: number;
  inDay: number;
  edge: number[];
  stop?: { reason: string; until: number };
}

/**
 * The unit's reads ahead, by address, and the automatic, not-held outbox rows it enqueued to those addresses that
 * the reads did not see: those still waiting when an address was read and those enqueued since (waiting or written
 * by a flush since: either way not in what was read). A mail in its own savepoint works on a copy of the list: a
 * mail rolled back takes its rows with it. The reads are shared: they are what the table held, whatever the child does.
 */
interface BudgetsAhead {
  reads: Map<string, BudgetRead>;
  unseen: Array<{ recipient: string; createdAt: number }>;
}
const BUDGETS_AHEAD = memoKey<BudgetsAhead | undefined>(
  'outbox.budgetsAhead',
  () => undefined,
  (parent) => parent && { reads: parent.reads, unseen: parent.unseen.slice() },
);

/** The hand-off of the ingest's batch: the mails ready after the one whose turn it is (expectBudgetAsks). */
const MAILS_AHEAD = memoKey<readonly MailAhead[]>(
  'outbox.mailsAhead',
  () => [],
  (parent) => parent,
);

/**
 * The ingest's batch, before a mail's turn, names the mails ready after it: a notice that must read the budget reads
 * theirs in the same statement. Not in the careful rerun (which leaves this empty): there every notice reads alone.
 */
export function expectBudgetAsks(uow: UnitOfWork, ahead: readonly MailAhead[]): void {
  uow.setMemo(MAILS_AHEAD, ahead);
}

function mailsAhead(q: Queryable): readonly MailAhead[] {
  return q instanceof UnitOfWork ? q.memo(MAILS_AHEAD) : [];
}

/** How the budget asks about the mails ahead: the lengths of its two windows, and the addresses it never budgets
 * (the desk's own), whose notices never read it. */
export interface AheadSpans {
  window: number;
  day: number;
  never: (address: string) => boolean;
}

/**
 * The questions the mails ready after the current one will ask about their senders, those not read ahead for them
 * yet. An address may come more than once (a sender of several mails): each time its own, so the read spans every
 * one of its times.
 */
export function asksAhead(q: Queryable, spans: AheadSpans, recipient: string): BudgetAsk[] {
  const out: BudgetAsk[] = [];
  for (const m of mailsAhead(q)) {
    if (m.address !== recipient && spans.never(m.address)) continue;
    const ask = { recipient: m.address, windowSince: m.now - spans.window, daySince: m.now - spans.day, at: m.now };
    if (!readAheadFor(q, m.address, ask)) out.push(ask);
  }
  return out;
}

const fits = (r: BudgetRead, a: Omit<BudgetAsk, 'recipient'>): boolean =>
  a.windowSince >= r.windowFrom &&
  a.windowSince <= r.windowTo &&
  a.daySince >= r.dayFrom &&
  a.daySince <= r.dayTo &&
  a.at >= r.stopFrom;

/** Whether the unit read `recipient` ahead for a question like `ask`. */
function readAheadFor(q: Queryable, recipient: string, ask: Omit<BudgetAsk, 'recipient'>): boolean {
  const read = q instanceof UnitOfWork ? q.memo(BUDGETS_AHEAD)?.reads.get(recipient) : undefined;
  return read !== undefined && fits(read, ask);
}

/**
 * loopBudgetOf's answer from a read ahead, or undefined when `recipient` was not read for such a question. The rows
 * the unit enqueued that the read did not see count from memory (BudgetsAhead.unseen).
 */
export function budgetFromAhead(
  q: Queryable,
  recipient: string,
  windowSince: number,
  daySince: number,
  suppressedAt?: number,
): { inWindow: number; inDay: number; suppressed?: string } | undefined {
  if (!(q instanceof UnitOfWork)) return undefined;
  const ahead = q.memo(BUDGETS_AHEAD);
  const read = ahead?.reads.get(recipient);
  if (!ahead || !read || !fits(read, { windowSince, daySince, at: suppressedAt ?? read.stopFrom })) return undefined;
  let { inWindow, inDay } = read;
  for (const t of read.edge) {
    if (t >= windowSince && t < read.windowTo) inWindow++;
    if (t >= daySince && t < read.dayTo) inDay++;
  }
  for (const w of ahead.unseen) {
    if (w.recipient !== recipient) continue;
    if (w.createdAt >= windowSince) inWindow++;
    if (w.createdAt >= daySince) inDay++;
  }
  const stop = read.stop;
  const suppressed = suppressedAt !== undefined && stop && stop.until > suppressedAt ? stop.reason : undefined;
  return { inWindow, inDay, suppressed };
}

/**
 * Keeps what one statement read for these addresses, with the unit's rows to them it did not see (`unseen`: those
 * waiting for the flush as it ran). An address read before is replaced, its earlier unseen rows dropped: the new read
 * saw those the flush wrote since, and `unseen` has those still waiting.
 */
export function keepBudgetsRead(
  uow: UnitOfWork,
  reads: ReadonlyMap<string, BudgetRead>,
  unseen: ReadonlyArray<{ recipient: string; createdAt: number }>,
): void {
  const ahead = uow.memo(BUDGETS_AHEAD) ?? { reads: new Map(), unseen: [] };
  const kept = ahead.unseen.filter((w) => !reads.has(w.recipient));
  // A map of its own: the parent's (shared by inherit) stays as it was if this unit is rolled back.
  uow.setMemo(BUDGETS_AHEAD, { reads: new Map([...ahead.reads, ...reads]), unseen: [...kept, ...unseen] });
}

/** An outbox row the unit enqueued (insertOutbox): counted from memory by later answers about its recipient. */
export function enqueuedAhead(q: Queryable, recipient: string, automatic: boolean, state: string, at: number): void {
  if (!automatic || state === 'held' || !(q instanceof UnitOfWork)) return;
  const ahead = q.memo(BUDGETS_AHEAD);
  if (ahead?.reads.has(recipient)) ahead.unseen.push({ recipient, createdAt: at });
}

/** A bounce stop written in the unit: the address is read again when next asked. */
export function forgetBudgetAhead(q: Queryable, address: string): void {
  const ahead = q instanceof UnitOfWork ? q.memo(BUDGETS_AHEAD) : undefined;
  if (!ahead?.reads.has(address)) return;
  const reads = new Map(ahead.reads);
  reads.delete(address);
  (q as UnitOfWork).setMemo(BUDGETS_AHEAD, { reads, unseen: ahead.unseen });
}
