import fs from 'node:fs';

/**
 * The file operations a blob store (src/storage/blobs.ts) is made of, below the level of blobs: a temporary file given
 * up, the touch that tells `mesa gc` a blob is in use, and an fsync of a file already written.
 */

/** A large stream's temporary file, not to be kept (the stream failed, or went over its limit). */
export function dropSpill(spill: { tmp: string; out: fs.WriteStream }): void {
  spill.out.destroy();
  fs.rmSync(spill.tmp, { force: true });
}

/**
 * A blob touched this recently needs no touch again: `mesa gc` only looks at files older than its grace period
 * (BLOB_GC_GRACE_HOURS, at least an hour), and the transaction that names the blob commits within minutes. The same
 * signature logo in every mail of a batch then costs one touch, not one per mail.
 */
const TOUCH_AGAIN_AFTER_MS = 10 * 60_000;

export function isFresh(mtimeMs: number): boolean {
  return Date.now() - mtimeMs < TOUCH_AGAIN_AFTER_MS;
}

/** Marks an existing blob as just used; false when it is not there (any more). */
export async function touch(file: string): Promise<boolean> {
  const now = new Date();
  return fs.promises.utimes(file, now, now).then(
    () => true,
    () => false,
  );
}

/** Flushes a file already written to disk (its data, whatever name it has now). */
export async function syncFile(file: string): Promise<void> {
  const fh = await fs.promises.open(file, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
