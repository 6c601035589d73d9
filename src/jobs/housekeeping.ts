import path from 'node:path';
import type { Knex } from 'knex';
import type { Config } from '../config.ts';
import { claimMark } from '../db/repos/lifecycle.ts';
import { deleteSentBefore } from '../db/repos/outbox.ts';
import { BlobStore } from '../storage/blobs.ts';
import { collectBlobs, type GcReport } from '../storage/gc.ts';

const DAY = 86_400_000;
const HOUR = 3_600_000;
/** Rows per DELETE: a long backlog (the first run after an upgrade) goes in short transactions. */
const PURGE_BATCH = 500;

/**
 * Sent mail leaves the outbox after OUTBOX_RETENTION_DAYS, as of `now` (the jobs' time, simulated by `mesa jobs
 * --now`): a backup then holds a month of mail content, not every mail ever sent. Returns how many were deleted.
 */
export async function purgeSentMail(db: Knex, config: Config, now: number): Promise<number> {
  const before = now - config.outbound.retentionDays * DAY;
  let total = 0;
  for (;;) {
    const n = await deleteSentBefore(db, before, PURGE_BATCH);
    total += n;
    if (n < PURGE_BATCH) return total;
  }
}

/** Unnamed blobs older than BLOB_GC_GRACE_HOURS, by the machine's clock (src/storage/gc.ts says why). */
export function collectGarbage(db: Knex, config: Config, blobs?: BlobStore): Promise<GcReport> {
  const store = blobs ?? new BlobStore(path.join(config.dataDir, 'blobs'));
  return collectBlobs(db, store, { graceMs: config.storage.blobGcGraceHours * HOUR });
}

/**
 * collectGarbage() once per day (by the machine's date), for the scheduled jobs: it reads every blob's directory
 * entry and asks the database about the old ones, too much to do every few minutes, and an orphan can wait a day.
 * The job mark makes it once a day across instances too. Undefined when it was done already today.
 */
export async function collectGarbageDaily(db: Knex, config: Config, blobs?: BlobStore): Promise<GcReport | undefined> {
  const now = Date.now();
  const today = new Date(now).toISOString().slice(0, 10);
  if (!(await db.transaction((trx) => claimMark(trx, 'blob-gc', today, now)))) return undefined;
  return collectGarbage(db, config, blobs);
}
