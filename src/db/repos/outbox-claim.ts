import { holderIsGone } from '../holders.ts';
import { isPostgres, type Knex } from '../knex.ts';
import { padded, placeholders, rows, run } from '../sql.ts';
import { inUnitOfWork, type UnitOfWork } from '../unit-of-work.ts';
import { bounceHoldReason } from './outbox-budget.ts';
import { toOutboxRow, type OutboxRow } from './outbox-row.ts';
import { insertEvent } from './tickets.ts';

/**
 * The dispatcher's side of the outbox: claiming due rows and recording the ones it sent. Plain SQL (src/db/sql.ts)
 * in a unit of work: these statements run for every mail sent, and on SQLite the unit keeps them prepared.
 */

export interface HeldAtSend {
  id: number;
  ticketId?: number;
  recipient: string;
  kind: string;
  reason: string;
}

export interface ClaimRequest {
  now: number;
  limit: number;
  owner: string;
  leaseMs: number;
  /** The desk's own addresses: a bounce never stops mail to them. */
  neverStopped?: readonly string[];
  /** Rows this dispatcher sent since its last claim: recorded as sent in the claim's transaction. */
  sent?: readonly number[];
}

export interface Claim {
  due: OutboxRow[];
  held: HeldAtSend[];
  /** How many of `sent` were recorded (a row another dispatcher took over after a lost claim is not). */
  settled: number;
}

const n = (v: unknown) => (v === null || v === undefined ? undefined : Number(v));
/** A LIMIT written into the statement's text, not bound: SQLite prepares a statement with a bound LIMIT again at every
 * run (tests/perf/sqlite/db/sqlite-statements.test.ts). A claim asks for a few dozen rows at most. */
const rowCount = (limit: number): number => {
  if (!Number.isInteger(limit) || limit < 1 || limit > 100_000)
    throw new Error(`límite inválido para el reclamo: ${limit}`);
  return limit;
};
const inList = (values: readonly unknown[]) => placeholders(1, values.length);

/**
 * Claims up to `limit` due rows for one dispatcher: pending ones whose time has come, and `sending` ones whose
 * dispatcher died between claiming and recording them: once their claim ran out, or at once when that dispatcher's
 * process on this machine has ended (holderIsGone: a SIGKILLed `mesa start` restarted by systemd sends them again in
 * seconds, not after the claim's five minutes). On PostgreSQL the rows are locked with FOR UPDATE SKIP LOCKED so that
 * several instances never claim the same row; SQLite has one writer at a time.
 *
 * The bounce stop is asked again here, in the claim's transaction: automatic mail enqueued before a hard bounce was
 * recorded (earlier in the same batch, or by another instance) is held with the stop's reason, as enqueue() would
 * have held it, instead of going to an address that is known to fail. A person's words (not automatic) still go, and
 * so does mail to `neverStopped` (the desk's addresses, which a bounce never stops).
 */
export async function claimDue(db: Knex, p: ClaimRequest): Promise<Claim> {
  const sent = p.sent ?? [];
  if (p.limit <= 0 && !sent.length) return { due: [], held: [], settled: 0 };
  // Most polls find nothing due. On SQLite a transaction takes the file's write lock at BEGIN (src/db/knex.ts), and
  // `mesa start` polls every OUTBOX_POLL_MS: ask with a plain read first, so an idle poll never waits for, nor holds
  // up, the other processes writing the file (an MTA's parallel `mesa ingest -`). PostgreSQL locks rows, not the
  // database: there the claim's own SELECT … SKIP LOCKED asks, one round trip fewer. With sent rows to record, the
  // transaction is needed anyway.
  let gone: string[] | undefined;
  if (!sent.length && !isPostgres(db)) {
    gone = await goneClaimers(db, p.owner);
    const anyDue = `select "id" from "outbox" where (${PENDING_WHERE}) or (${staleWhere(gone)}) limit 1`;
    if (!(await rows(db, anyDue, [p.now, p.now, ...gone])).length) return { due: [], held: [], settled: 0 };
  }
  return inUnitOfWork(db, async (uow) => {
    const settled = await markSent(uow, sent, p.owner, p.now);
    if (p.limit <= 0) return { due: [], held: [], settled };
    return { ...(await claimIn(uow, p, gone ?? (await goneClaimers(uow, p.owner)))), settled };
  });
}

/** Records `ids` as sent by `owner`; only the claimant may settle a row, so a dispatcher that lost its claim does not
 * overwrite the new owner. Returns how many rows it recorded. */
export async function markSent(
  db: Knex | UnitOfWork,
  ids: readonly number[],
  owner: string,
  now: number,
): Promise<number> {
  if (!ids.length) return 0;
  const list = padded([...ids]);
  return run(
    db,
    `update "outbox" set "state" = 'sent', "sent_at" = ?, "lease_until" = null, "last_error" = null
     where "claimed_by" = ? and "state" = 'sending' and "id" in ${inList(list)}`,
    [now, owner, ...list],
  );
}

async function claimIn(uow: UnitOfWork, p: ClaimRequest, gone: readonly string[]): Promise<Omit<Claim, 'settled'>> {
  const lock = isPostgres(uow) ? ' for update skip locked' : '';
  // Claimed rows whose dispatcher is gone first (they waited longest), then pending ones by when they fell due. Each
  // is read in its index's order up to the limit: a burst of thousands of due mails is not sorted again at every claim.
  const stale = await rows(
    uow,
    `select "id" from "outbox" where ${staleWhere(gone)} order by "id" limit ${rowCount(p.limit)}${lock}`,
    [p.now, ...gone],
  );
  const pending =
    stale.length < p.limit
      ? await rows(
          uow,
          `select "id" from "outbox" where ${PENDING_WHERE}
           order by "next_attempt_at", "id" limit ${rowCount(p.limit - stale.length)}${lock}`,
          [p.now],
        )
      : [];
  const ids = [...stale, ...pending].map((r) => Number(r.id));
  if (!ids.length) return { due: [], held: [] };
  const held = await holdStopped(uow, ids, p);
  const heldIds = new Set(held.map((h) => h.id));
  const send = padded(ids.filter((id) => !heldIds.has(id)));
  if (!send.length) return { due: [], held };
  await run(
    uow,
    `update "outbox" set "state" = 'sending', "lease_until" = ?, "claimed_by" = ?, "attempts" = "attempts" + 1
     where "id" in ${inList(send)}`,
    [p.now + p.leaseMs, p.owner, ...send],
  );
  const due = (await rows(uow, `select * from "outbox" where "id" in ${inList(send)}`, send)).map(toOutboxRow);
  const order = new Map(send.map((id, i) => [id, i]));
  return { due: due.sort((x, y) => order.get(x.id)! - order.get(y.id)!), held };
}

/** Due and waiting: pending, and its time (bound: now) has come. */
const PENDING_WHERE = `"state" = 'pending' and "next_attempt_at" <= ?`;
/** Due and claimed: by a dispatcher whose claim ran out (bound: now) or whose process is gone (bound: `gone`). */
const staleWhere = (gone: readonly string[]) =>
  `"state" = 'sending' and ("lease_until" < ?${gone.length ? ` or "claimed_by" in ${inList(gone)}` : ''})`;

/** Automatic mail to an address a bounce stopped after the mail was enqueued: held, with the stop's reason. */
async function holdStopped(uow: UnitOfWork, ids: readonly number[], p: ClaimRequest): Promise<HeldAtSend[]> {
  const desk = p.neverStopped ?? [];
  const stopped = await rows(
    uow,
    `select "o"."id", "o"."ticket_id", "o"."recipient", "o"."kind", "s"."reason"
     from "outbox" as "o" inner join "mail_suppressions" as "s" on "s"."address" = "o"."recipient"
     where "o"."id" in ${inList(ids)} and "o"."automatic" = ? and "s"."until" > ?` +
      (desk.length ? ` and "o"."recipient" not in ${inList(desk)}` : ''),
    [...ids, true, p.now, ...desk],
  );
  const held: HeldAtSend[] = stopped.map((r) => ({
    id: Number(r.id),
    ticketId: n(r.ticket_id),
    recipient: r.recipient,
    kind: r.kind,
    reason: bounceHoldReason(r.reason),
  }));
  for (const h of held) {
    await run(
      uow,
      `update "outbox" set "state" = 'held', "held_reason" = ?, "lease_until" = null, "claimed_by" = null
       where "id" = ?`,
      [h.reason, h.id],
    );
    if (h.ticketId !== undefined)
      await insertEvent(uow, {
        ticketId: h.ticketId,
        type: 'mail_held',
        actor: 'mesa',
        to: h.recipient,
        reason: h.reason,
        at: p.now,
        data: { kind: h.kind },
      });
  }
  return held;
}

/** The other dispatchers with rows in `sending` whose process on this machine has ended. A few rows at most (one per
 * sending slot of each live dispatcher), found through the (state, next_attempt_at) index. */
async function goneClaimers(db: Knex | UnitOfWork, owner: string): Promise<string[]> {
  const found = await rows<{ claimed_by: string | null }>(
    db,
    `select distinct "claimed_by" from "outbox" where "state" = 'sending' and "claimed_by" <> ?`,
    [owner],
  );
  return found.map((r) => r.claimed_by ?? '').filter((c) => c && holderIsGone(c));
}
