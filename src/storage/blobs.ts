import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { MesaError } from '../errors.ts';
import { dropSpill, isFresh, syncFile, touch } from './blob-files.ts';

/**
 * Content-addressed files under DATA_DIR/blobs/ab/cdef…: the HTML and the attachments of mails, files uploaded on the
 * status page, and raw mail over 1 MB (smaller raw mail is a database row, src/storage/originals.ts). Written to a
 * temporary name and renamed, so a reader never sees half a file; a blob written for a mail whose transaction
 * then failed is an orphan, never a loss. The database stores only the hash.
 *
 * Durability: an original (a large raw mail, a file uploaded on the status page) is fsynced before put() returns,
 * i.e. before the transaction that references it commits — it is the one thing we must never lose.
 * A `derived` blob (the HTML part and the attachments extracted from a raw source that is itself stored) is not: an
 * fsync waits for the disk on every blob of every mail, and after a power loss such a file can be extracted again from
 * the raw source (docs/performance.md, «Decisiones medidas»). The ingest flushes each batch's commit to disk before the
 * poller moves its mails (src/db/knex.ts syncCommitted); other commits on SQLite (WAL + synchronous=NORMAL) may roll
 * back on a power loss, while PostgreSQL fsyncs each commit. Without the fsync a crash can leave the renamed file empty
 * or short (ext4 delayed allocation), so an existing blob only counts when its size matches; otherwise it is written
 * again.
 */
/** Streams up to this size are gathered in memory and hashed before anything touches the disk (see putStream);
 * larger ones go to a temporary file as they arrive, so a 25 MB attachment is never held whole. */
const IN_MEMORY_MAX = 1024 * 1024;

/** An upload written to a temporary file (BlobStore.stage), not yet a blob. */
export interface StagedFile {
  path: string;
  sha256: string;
  size: number;
}

export class BlobStore {
  /** DATA_DIR/blobs/tmp exists (made by the first large putStream). */
  private tmpReady = false;

  constructor(readonly root: string) {}

  static sha256(data: Buffer | string): string {
    return crypto.createHash('sha256').update(data).digest('hex');
  }

  /**
   * Creates the 256 fan-out directories (ab/ of ab/cdef…) up front, where they do not exist yet. Otherwise the first
   * blob of each prefix in a new DATA_DIR pays a failed open(), an error object and a mkdir(), 256 times over on a
   * fresh install. Best effort: store() still makes a missing one.
   */
  async makeFanOut(): Promise<void> {
    const dirs = Array.from({ length: 256 }, (_, i) => path.join(this.root, i.toString(16).padStart(2, '0')));
    try {
      for (let i = 0; i < dirs.length; i += 32)
        await Promise.all(dirs.slice(i, i + 32).map((d) => fs.promises.mkdir(d, { recursive: true })));
    } catch {
      // A read-only or full disk: each write reports its own error.
    }
  }

  pathFor(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new MesaError('STORAGE_FAILED', `hash inválido ${sha256.slice(0, 12)}`);
    return path.join(this.root, sha256.slice(0, 2), sha256.slice(2));
  }

  /** `sha256`: the caller's hash of these very bytes, when it has one (ingest hashes each raw mail first). */
  async put(data: Buffer | string, opts: { derived?: boolean; sha256?: string } = {}): Promise<string> {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const sha = opts.sha256 ?? BlobStore.sha256(buf);
    await this.store(sha, buf, !opts.derived);
    return sha;
  }

  /**
   * Writes `buf` as blob `sha` unless a whole copy is there already. Every step runs in libuv's thread pool, not on
   * the event loop: creating a file is work for the kernel and the disk, time the ingest keeps on parsing and
   * filtering while the pool writes and fsyncs on the other core.
   */
  private async store(sha: string, buf: Buffer, durable: boolean): Promise<void> {
    const file = this.pathFor(sha);
    try {
      // The same bytes may have been stored before (the logo every signature carries; an attached .eml equal to a
      // raw mail stored as a derived blob). Touched, so that `mesa gc` sees it as in use (src/storage/gc.ts); if gc
      // took it away meanwhile, the touch fails and it is written again. One touched a moment ago is left as it is.
      const st = fs.statSync(file, { throwIfNoEntry: false });
      if (st?.size === buf.length && (isFresh(st.mtimeMs) || (await touch(file)))) {
        if (durable) await syncFile(file);
        return;
      }
      const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
      // The fan-out directory usually exists: create it only when the open says it does not (saves a mkdir per blob).
      const fh = await fs.promises.open(tmp, 'w').catch(async (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
        await fs.promises.mkdir(path.dirname(file), { recursive: true });
        return fs.promises.open(tmp, 'w');
      });
      try {
        await fh.writeFile(buf);
        if (durable) await fh.sync();
      } finally {
        await fh.close();
      }
      await fs.promises.rename(tmp, file);
    } catch (err) {
      throw new MesaError('STORAGE_FAILED', (err as NodeJS.ErrnoException).code ?? String(err), { cause: err });
    }
  }

  /**
   * Stores a stream without holding a large one in memory. A stream of up to IN_MEMORY_MAX is gathered and hashed
   * first, so a blob already stored (the logo every signature carries, the same PDF sent twice) costs no file at all;
   * a larger one is written to a temporary file while it is hashed, then renamed to its hash (a 25 MB attachment is
   * never a 25 MB Buffer). Derived blobs are not fsynced (see above); `durable` (a mail's original, which a
   * transaction will name) is on disk before this returns. Returns the hash and the size.
   */
  async putStream(input: Readable, opts: { durable?: boolean } = {}): Promise<{ sha256: string; size: number }> {
    return this.putStreamUpTo(input, Infinity, opts) as Promise<{ sha256: string; size: number }>;
  }

  /**
   * putStream for content that is refused above `maxBytes` (an attachment over MAX_ATTACHMENT_BYTES, kept only in the
   * raw source): once the stream passes the limit nothing of it is kept, the rest is only counted, and no blob is
   * left behind (`sha256` undefined, `size` the whole size).
   */
  async putStreamUpTo(
    input: Readable,
    maxBytes: number,
    { durable = false }: { durable?: boolean } = {},
  ): Promise<{ sha256?: string; size: number }> {
    const hash = crypto.createHash('sha256');
    const held: Buffer[] = [];
    let size = 0;
    let spill: { tmp: string; out: fs.WriteStream } | undefined;
    try {
      for await (const chunk of input as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > maxBytes) {
          if (spill) dropSpill(spill);
          spill = undefined;
          held.length = 0;
          for await (const rest of input as AsyncIterable<Buffer>) size += rest.length;
          return { size };
        }
        hash.update(chunk);
        if (!spill) {
          held.push(chunk);
          if (size <= IN_MEMORY_MAX) continue;
          spill = this.spillFile();
          for (const c of held.splice(0)) spill.out.write(c);
        } else {
          spill.out.write(chunk);
        }
        if (spill.out.errored) throw spill.out.errored;
        if (spill.out.writableNeedDrain) await once(spill.out, 'drain');
      }
      const sha256 = hash.digest('hex');
      if (!spill) {
        await this.store(sha256, Buffer.concat(held, size), durable);
        return { sha256, size };
      }
      spill.out.end();
      await finished(spill.out);
      const file = this.pathFor(sha256);
      if (fs.statSync(file, { throwIfNoEntry: false })?.size === size && (await touch(file))) {
        await fs.promises.rm(spill.tmp, { force: true });
      } else {
        await fs.promises.mkdir(path.dirname(file), { recursive: true });
        await fs.promises.rename(spill.tmp, file);
      }
      if (durable) await syncFile(file);
      return { sha256, size };
    } catch (err) {
      if (spill) dropSpill(spill);
      if (err instanceof MesaError) throw err;
      throw new MesaError('STORAGE_FAILED', (err as NodeJS.ErrnoException).code ?? String(err), { cause: err });
    }
  }

  /**
   * Writes an uploaded file to a temporary file under DATA_DIR/blobs/tmp as it arrives, hashing it on the way, and
   * stops reading at `maxBytes` + 1: nothing of it is held in memory beyond the stream's own chunks. The result
   * becomes a blob only through adopt(), once the whole request was accepted; a refused request leaves no blob
   * (discard() removes the file). 'too-large' when the stream had more than `maxBytes` (its file is removed).
   */
  async stage(input: Readable, maxBytes: number): Promise<StagedFile | 'too-large'> {
    const hash = crypto.createHash('sha256');
    const { tmp, out } = this.spillFile();
    let size = 0;
    try {
      for await (const chunk of input as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > maxBytes) break;
        hash.update(chunk);
        out.write(chunk);
        if (out.errored) throw out.errored;
        if (out.writableNeedDrain) await once(out, 'drain');
      }
      out.end();
      await finished(out);
      if (size > maxBytes) {
        await fs.promises.rm(tmp, { force: true });
        return 'too-large';
      }
      return { path: tmp, sha256: hash.digest('hex'), size };
    } catch (err) {
      const disk = out.errored !== null;
      out.destroy();
      fs.rmSync(tmp, { force: true });
      // The sender's stream failing (a client gone, a malformed form) is theirs to report, not a storage failure.
      if (!disk) throw err;
      throw new MesaError('STORAGE_FAILED', (err as NodeJS.ErrnoException).code ?? String(err), { cause: err });
    }
  }

  /** A staged upload becomes blob `sha256`, durable (fsynced) before this returns: an upload is an original. */
  async adopt(staged: StagedFile): Promise<string> {
    try {
      const file = this.pathFor(staged.sha256);
      if (fs.statSync(file, { throwIfNoEntry: false })?.size === staged.size && (await touch(file))) {
        await syncFile(file);
        await fs.promises.rm(staged.path, { force: true });
        return staged.sha256;
      }
      await syncFile(staged.path);
      await fs.promises.mkdir(path.dirname(file), { recursive: true });
      await fs.promises.rename(staged.path, file);
      return staged.sha256;
    } catch (err) {
      throw new MesaError('STORAGE_FAILED', (err as NodeJS.ErrnoException).code ?? String(err), { cause: err });
    }
  }

  /** Removes staged uploads that will not be kept (a refused or failed request). */
  async discard(staged: readonly StagedFile[]): Promise<void> {
    await Promise.all(staged.map((f) => fs.promises.rm(f.path, { force: true })));
  }

  /** A temporary file under DATA_DIR/blobs/tmp for a large stream (renamed to its hash once it is whole). */
  private spillFile(): { tmp: string; out: fs.WriteStream } {
    const dir = path.join(this.root, 'tmp');
    if (!this.tmpReady) fs.mkdirSync(dir, { recursive: true });
    this.tmpReady = true;
    const tmp = path.join(dir, `${process.pid}.${crypto.randomBytes(6).toString('hex')}.tmp`);
    const out = fs.createWriteStream(tmp);
    // Seen by the loop (out.errored) or by finished(): a disk error must not go unhandled between two writes.
    out.on('error', () => undefined);
    return { tmp, out };
  }

  async get(sha256: string): Promise<Buffer> {
    return fs.promises.readFile(this.pathFor(sha256));
  }

  /**
   * A blob to send as it is read (a download of the case page): opened now, so that one gone meanwhile (`mesa gc`)
   * is undefined here and not an error in the middle of an answer; then read in chunks as the client takes them.
   */
  async openForReading(sha256: string): Promise<{ size: number; content: Readable } | undefined> {
    const fh = await this.openIfThere(sha256);
    if (!fh) return undefined;
    try {
      const { size } = await fh.stat();
      return { size, content: fh.createReadStream() };
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** A blob read whole if it is at most `maxBytes` (its size asked first, so a larger one is never read); undefined
   * when it is not there. */
  async readUpTo(sha256: string, maxBytes: number): Promise<Buffer | 'too-large' | undefined> {
    const fh = await this.openIfThere(sha256);
    if (!fh) return undefined;
    try {
      return (await fh.stat()).size > maxBytes ? 'too-large' : await fh.readFile();
    } finally {
      await fh.close();
    }
  }

  private openIfThere(sha256: string): Promise<fs.promises.FileHandle | undefined> {
    return fs.promises.open(this.pathFor(sha256), 'r').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
  }

  has(sha256: string): boolean {
    return fs.existsSync(this.pathFor(sha256));
  }
}
