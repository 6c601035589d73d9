import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MesaError } from '../errors.ts';

/**
 * Content-addressed files under DATA_DIR/blobs/ab/cdef…: raw mail, original HTML and attachments. Written to a
 * temporary name and renamed, so a reader never sees half a file; a blob written for a mail whose transaction
 * then failed is an orphan, never a loss. The database stores only the hash.
 *
 * Durability: an original (the raw source of a mail, a file uploaded on the status page) is fsynced before put()
 * returns, i.e. before the transaction that references it commits — it is the one thing we must never lose.
 * A `derived` blob (the HTML part and the attachments extracted from a raw source that is itself stored) is not:
 * an fsync costs ~1–2 ms each (3.4 ms per mail in `npm run bench`), and after a power loss such a file can be
 * extracted again from the raw source. The database side is no stricter (SQLite runs WAL + synchronous=NORMAL, so
 * the last commits may roll back on power loss; PostgreSQL fsyncs each commit). Without the fsync a crash can
 * leave the renamed file empty or short (ext4 delayed allocation), so an existing blob only counts when its size
 * matches; otherwise it is written again.
 */
/** Blobs up to this size are written synchronously (see putSmall); larger ones fully through the thread pool, so a
 * 25 MB attachment does not hold the event loop. */
const SYNC_WRITE_MAX = 1024 * 1024;

export class BlobStore {
  /** DATA_DIR/blobs/tmp exists (made by the first putStream). */
  private tmpReady = false;

  constructor(private readonly root: string) {}

  static sha256(data: Buffer | string): string {
    return crypto.createHash('sha256').update(data).digest('hex');
  }

  pathFor(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new MesaError('STORAGE_FAILED', `hash inválido ${sha256.slice(0, 12)}`);
    return path.join(this.root, sha256.slice(0, 2), sha256.slice(2));
  }

  async put(data: Buffer | string, opts: { derived?: boolean } = {}): Promise<string> {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const sha = BlobStore.sha256(buf);
    const file = this.pathFor(sha);
    try {
      if (fs.statSync(file, { throwIfNoEntry: false })?.size === buf.length) {
        // The same bytes may have been stored before as a derived blob (an attached .eml equal to a raw mail).
        if (!opts.derived) await syncFile(file);
        return sha;
      }
      const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
      if (buf.length <= SYNC_WRITE_MAX) {
        await this.putSmall(file, tmp, buf, !opts.derived);
        return sha;
      }
      // The fan-out directory usually exists: create it only when the open says it does not (saves a mkdir per blob).
      const fh = await fs.promises.open(tmp, 'w').catch(async (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
        await fs.promises.mkdir(path.dirname(file), { recursive: true });
        return fs.promises.open(tmp, 'w');
      });
      try {
        await fh.writeFile(buf);
        if (!opts.derived) await fh.sync();
      } finally {
        await fh.close();
      }
      await fs.promises.rename(tmp, file);
      return sha;
    } catch (err) {
      throw new MesaError('STORAGE_FAILED', (err as NodeJS.ErrnoException).code ?? String(err), { cause: err });
    }
  }

  /**
   * A small blob is written to the page cache synchronously (tens of microseconds) and only the fsync goes to the
   * thread pool: one round trip instead of five (open, write, sync, close, rename), each of which would otherwise
   * wait for the event loop to come round while ingest keeps it busy — the fsync started before parsing is then
   * done by the time the transaction wants to commit.
   */
  private async putSmall(file: string, tmp: string, buf: Buffer, durable: boolean): Promise<void> {
    let fd: number;
    try {
      fd = fs.openSync(tmp, 'w');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fd = fs.openSync(tmp, 'w');
    }
    try {
      fs.writeFileSync(fd, buf);
      if (durable) await new Promise<void>((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  }

  /**
   * Stores a stream without holding it in memory: written to a temporary file while it is hashed, then renamed to
   * its hash (an attachment of 25 MB is never a 25 MB Buffer; `npm run bench`, peak RSS). Only for derived blobs
   * (no fsync; see above). Returns the hash and the size.
   */
  async putStream(input: Readable): Promise<{ sha256: string; size: number }> {
    const dir = path.join(this.root, 'tmp');
    const tmp = path.join(dir, `${process.pid}.${crypto.randomBytes(6).toString('hex')}.tmp`);
    const hash = crypto.createHash('sha256');
    let size = 0;
    try {
      if (!this.tmpReady) fs.mkdirSync(dir, { recursive: true });
      this.tmpReady = true;
      await pipeline(input, new Transform({
        transform(chunk: Buffer, _enc, done) {
          hash.update(chunk);
          size += chunk.length;
          done(null, chunk);
        },
      }), fs.createWriteStream(tmp));
      const sha256 = hash.digest('hex');
      const file = this.pathFor(sha256);
      if (fs.statSync(file, { throwIfNoEntry: false })?.size === size) {
        fs.rmSync(tmp, { force: true });
      } else {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.renameSync(tmp, file);
      }
      return { sha256, size };
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw new MesaError('STORAGE_FAILED', (err as NodeJS.ErrnoException).code ?? String(err), { cause: err });
    }
  }

  async get(sha256: string): Promise<Buffer> {
    return fs.promises.readFile(this.pathFor(sha256));
  }

  has(sha256: string): boolean {
    return fs.existsSync(this.pathFor(sha256));
  }
}

async function syncFile(file: string): Promise<void> {
  const fh = await fs.promises.open(file, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
