import type { ImapFlow } from 'imapflow';
import type { Knex } from 'knex';
import type { Readable } from 'node:stream';
import { isPostgres } from '../db/knex.ts';
import type { FetchedSource, KeptSource } from './ingest-types.ts';

/**
 * How the poller reads new mail off the server: the ascending UIDs above last_uid are cut into batches (whole
 * mails fetched in one FETCH each, bounded in count and bytes so memory stays bounded), and each batch's sources are
 * asked for while the batch before it is ingested. A mail over MAX_MESSAGE_BYTES (SourceKeeper.tooLargeToRead) is a
 * batch of its own, never fetched whole: it streams into the blob store and is refused from its first bytes.
 */

/** UIDs whose sizes are asked in one FETCH; bytes fetched whole in one FETCH (a larger mail comes alone). */
export const SIZE_CHUNK = 500;
const BATCH_BYTES = 8 * 1024 * 1024;
/** A too-large mail's partial FETCH (BODY.PEEK[]<start.length>): what is in memory of it at a time. */
const KEEP_CHUNK = 1024 * 1024;

/** Where a too-large mail goes instead of memory (IngestService). */
export interface SourceKeeper {
  tooLargeToRead(size: number): boolean;
  keepTooLarge(content: Readable): Promise<KeptSource>;
}

/** A batch of the plan: mails to fetch whole together, or one too large to fetch whole. */
export interface PlannedBatch {
  uids: number[];
  tooLarge?: boolean;
}

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
  sources: Promise<Map<number, FetchedSource>>;
}

/** The batches of `uids` in order, their sizes asked sizeChunk UIDs at a time, as the reading gets there. */
export async function* planBatches(
  client: ImapFlow,
  uids: number[],
  sizeChunk: number,
  batchCount: number,
  keeper: Pick<SourceKeeper, 'tooLargeToRead'>,
): AsyncGenerator<PlannedBatch> {
  for (let i = 0; i < uids.length; i += sizeChunk)
    yield* await batchesOf(client, uids.slice(i, i + sizeChunk), batchCount, keeper);
}

/** The plan's next batch, its sources already asked for; undefined when the plan is done. A failure (of the size
 * FETCH or of the sources) rejects when awaited. */
export async function readNext(
  client: ImapFlow,
  plan: AsyncGenerator<PlannedBatch>,
  keeper: SourceKeeper,
): Promise<ReadAhead | undefined> {
  const step = await plan.next();
  if (step.done) return undefined;
  const { uids, tooLarge } = step.value;
  const sources = tooLarge ? keptOf(client, uids[0], keeper) : sourcesOf(client, uids);
  sources.catch(() => undefined); // handled where it is awaited
  return { batch: uids, sources };
}

/**
 * Splits ascending UIDs into runs to fetch whole: at most batchCount mails and BATCH_BYTES bytes each (sizes from
 * one FETCH of RFC822.SIZE, RFC 3501 §6.4.5, also for a single new mail), a mail larger than that alone, so memory
 * stays bounded; a mail too large to take at all alone and not fetched whole.
 */
async function batchesOf(
  client: ImapFlow,
  uids: number[],
  batchCount: number,
  keeper: Pick<SourceKeeper, 'tooLargeToRead'>,
): Promise<PlannedBatch[]> {
  if (!uids.length) return [];
  const sizes = new Map<number, number>();
  const range = uids.length === 1 ? String(uids[0]) : `${uids[0]}:${uids.at(-1)}`;
  for (const m of await client.fetchAll(range, { uid: true, size: true }, { uid: true })) sizes.set(m.uid, m.size ?? 0);
  const out: PlannedBatch[] = [];
  let current: number[] = [];
  let bytes = 0;
  for (const uid of uids) {
    const size = sizes.get(uid) ?? 0;
    const alone = keeper.tooLargeToRead(size);
    if (current.length && (alone || current.length >= batchCount || bytes + size > BATCH_BYTES)) {
      out.push({ uids: current });
      current = [];
      bytes = 0;
    }
    if (alone) {
      out.push({ uids: [uid], tooLarge: true });
      continue;
    }
    current.push(uid);
    bytes += size;
  }
  if (current.length) out.push({ uids: current });
  return out;
}

/** A too-large mail streamed in partial FETCHes straight to the keeper; no entry when it was expunged meanwhile. */
async function keptOf(client: ImapFlow, uid: number, keeper: SourceKeeper): Promise<Map<number, FetchedSource>> {
  const out = new Map<number, FetchedSource>();
  const { content } = await client.download(String(uid), undefined, { uid: true, chunkSize: KEEP_CHUNK });
  if (!content) return out;
  const { head, sha256, size } = await keeper.keepTooLarge(content);
  out.set(uid, { raw: head, kept: { sha256, size } });
  return out;
}

/** The sources of one batch: a contiguous run of the ascending UIDs, so `first:last` names exactly them (UIDs
 * only grow, RFC 3501 §2.3.1.1: none can appear inside the run later); others are ignored all the same. */
async function sourcesOf(client: ImapFlow, batch: number[]): Promise<Map<number, FetchedSource>> {
  const out = new Map<number, FetchedSource>();
  const wanted = new Set(batch);
  const range = batch.length === 1 ? String(batch[0]) : `${batch[0]}:${batch.at(-1)}`;
  for (const m of await client.fetchAll(range, { uid: true, source: true }, { uid: true })) {
    if (m.source && wanted.has(m.uid)) out.set(m.uid, { raw: m.source });
  }
  return out;
}
