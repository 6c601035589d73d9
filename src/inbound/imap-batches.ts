import type { ImapFlow } from 'imapflow';
import type { Knex } from 'knex';
import { isPostgres } from '../db/knex.ts';

/**
 * How the poller reads new mail off the server: the ascending UIDs above last_uid are cut into batches (whole
 * mails fetched in one FETCH each, bounded in count and bytes so memory stays bounded), and each batch's sources are
 * asked for while the batch before it is ingested.
 */

/** UIDs whose sizes are asked in one FETCH; bytes fetched whole in one FETCH (a larger mail comes alone). */
export const SIZE_CHUNK = 500;
const BATCH_BYTES = 8 * 1024 * 1024;

/**
 * How many mails one batch takes at most: one FETCH, one transaction, one flush to disk. On SQLite a commit writes
 * every page the batch changed to the WAL, once however many of its mails changed it (the end of each table and index,
 * the counters), so a larger batch writes fewer pages per mail. On PostgreSQL a batch holds the row locks of its
 * cases and the organization lock until it commits, and other instances wait for them: a smaller batch keeps that
 * short.
 */
export function batchCountFor(db: Knex): number {
  return isPostgres(db) ? 50 : 200;
}

/** A batch of the plan, its sources already asked for. */
export interface ReadAhead {
  batch: number[];
  sources: Promise<Map<number, Buffer>>;
}

/** The batches of `uids` in order, their sizes asked sizeChunk UIDs at a time, as the reading gets there. */
export async function* planBatches(
  client: ImapFlow,
  uids: number[],
  sizeChunk: number,
  batchCount: number,
): AsyncGenerator<number[]> {
  for (let i = 0; i < uids.length; i += sizeChunk)
    yield* await batchesOf(client, uids.slice(i, i + sizeChunk), batchCount);
}

/** The plan's next batch, its sources already asked for; undefined when the plan is done. A failure (of the size
 * FETCH or of the sources) rejects when awaited. */
export async function readNext(client: ImapFlow, plan: AsyncGenerator<number[]>): Promise<ReadAhead | undefined> {
  const step = await plan.next();
  if (step.done) return undefined;
  const sources = sourcesOf(client, step.value);
  sources.catch(() => undefined); // handled where it is awaited
  return { batch: step.value, sources };
}

/**
 * Splits ascending UIDs into runs to fetch whole: at most batchCount mails and BATCH_BYTES bytes each (sizes from
 * one FETCH of RFC822.SIZE, RFC 3501 §6.4.5), a mail larger than that alone, so memory stays bounded.
 */
async function batchesOf(client: ImapFlow, uids: number[], batchCount: number): Promise<number[][]> {
  if (uids.length <= 1) return uids.length ? [uids] : [];
  const sizes = new Map<number, number>();
  for (const m of await client.fetchAll(`${uids[0]}:${uids.at(-1)}`, { uid: true, size: true }, { uid: true }))
    sizes.set(m.uid, m.size ?? 0);
  const out: number[][] = [];
  let current: number[] = [];
  let bytes = 0;
  for (const uid of uids) {
    const size = sizes.get(uid) ?? 0;
    if (current.length && (current.length >= batchCount || bytes + size > BATCH_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(uid);
    bytes += size;
  }
  if (current.length) out.push(current);
  return out;
}

/** The sources of one batch: a contiguous run of the ascending UIDs, so `first:last` names exactly them (UIDs
 * only grow, RFC 3501 §2.3.1.1: none can appear inside the run later); others are ignored all the same. */
async function sourcesOf(client: ImapFlow, batch: number[]): Promise<Map<number, Buffer>> {
  const out = new Map<number, Buffer>();
  const wanted = new Set(batch);
  const range = batch.length === 1 ? String(batch[0]) : `${batch[0]}:${batch.at(-1)}`;
  for (const m of await client.fetchAll(range, { uid: true, source: true }, { uid: true })) {
    if (m.source && wanted.has(m.uid)) out.set(m.uid, m.source);
  }
  return out;
}
