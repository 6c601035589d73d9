import type { Queryable } from '../db/sql.ts';
import fs from 'node:fs';
import path from 'node:path';
import { namedBlobs } from '../db/repos/blob-refs.ts';
import type { BlobStore } from './blobs.ts';

/**
 * Removes blobs no row names: the derived files of a mail parsed ahead and never ingested, of a mail whose
 * transaction failed, the half-written temporary files of a process that died.
 *
 * Why this is safe while mail is being ingested: a blob is written (or, when the same bytes are there already,
 * touched: BlobStore.store) by the ingest or the upload that will name it, before the transaction that names it
 * commits. Until that commit the database does not name it, but its modification time is recent. Only files older
 * than the grace period (BLOB_GC_GRACE_HOURS, a day by default; a batch commits within minutes) are considered.
 * A file found unnamed is first renamed aside and looked at again: if someone touched it meanwhile (a new mail with
 * the same attachment), it is put back; if someone looks for it after the rename, they find nothing and write it
 * again. The clock is the machine's, as the files' times are: never the simulated time of `mesa jobs --now`.
 */
export interface GcReport {
  examined: number;
  removed: number;
  removedBytes: number;
  /** Leftover temporary files of writes that never finished. */
  temporaryRemoved: number;
}

const BLOB_NAME = /^[0-9a-f]{62}$/;
const FAN_OUT = /^[0-9a-f]{2}$/;

export async function collectBlobs(
  db: Queryable,
  blobs: BlobStore,
  opts: { graceMs: number; now?: number },
): Promise<GcReport> {
  const cutoff = (opts.now ?? Date.now()) - opts.graceMs;
  const report: GcReport = { examined: 0, removed: 0, removedBytes: 0, temporaryRemoved: 0 };
  const old: Array<{ sha256: string; file: string }> = [];
  for (const dir of await list(blobs.root)) {
    const full = path.join(blobs.root, dir);
    if (dir === 'tmp') {
      for (const name of await list(full)) report.temporaryRemoved += await removeIfOld(path.join(full, name), cutoff);
      continue;
    }
    if (!FAN_OUT.test(dir)) continue;
    for (const name of await list(full)) {
      const file = path.join(full, name);
      if (name.endsWith('.tmp')) {
        report.temporaryRemoved += await removeIfOld(file, cutoff);
        continue;
      }
      if (name.endsWith('.gc')) {
        // Set aside by a gc that stopped half-way: back under its name (judged again next time) or, if written
        // again since, no longer needed.
        const blob = file.slice(0, -'.gc'.length);
        await (fs.existsSync(blob) ? fs.promises.rm(file, { force: true }) : fs.promises.rename(file, blob)).catch(
          () => undefined,
        );
        continue;
      }
      if (!BLOB_NAME.test(name)) continue;
      report.examined++;
      const st = await fs.promises.stat(file).catch(() => undefined);
      if (st?.isFile() && st.mtimeMs < cutoff) old.push({ sha256: dir + name, file });
    }
  }
  if (!old.length) return report;
  const named = await namedBlobs(
    db,
    old.map((o) => o.sha256),
  );
  for (const o of old) {
    if (named.has(o.sha256)) continue;
    const aside = `${o.file}.gc`;
    try {
      await fs.promises.rename(o.file, aside);
    } catch {
      continue; // gone already (another instance's gc)
    }
    const st = await fs.promises.stat(aside);
    if (st.mtimeMs >= cutoff) {
      // Touched between the look and the rename: an ingest names it now. Put back, unless it was written again.
      if (!fs.existsSync(o.file)) await fs.promises.rename(aside, o.file);
      else await fs.promises.rm(aside, { force: true });
      continue;
    }
    await fs.promises.rm(aside, { force: true });
    report.removed++;
    report.removedBytes += st.size;
  }
  return report;
}

async function list(dir: string): Promise<string[]> {
  return fs.promises.readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
}

async function removeIfOld(file: string, cutoff: number): Promise<number> {
  const st = await fs.promises.stat(file).catch(() => undefined);
  if (!st?.isFile() || st.mtimeMs >= cutoff) return 0;
  await fs.promises.rm(file, { force: true });
  return 1;
}
