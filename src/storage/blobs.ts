import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { MesaError } from '../errors.ts';

/**
 * Content-addressed files under DATA_DIR/blobs/ab/cdef…: raw mail, original HTML and attachments. Written to a
 * temporary name, fsynced and renamed, so a crash leaves either nothing or the whole file; a blob written for a
 * mail whose transaction then failed is an orphan, never a loss. The database stores only the hash.
 */
export class BlobStore {
  constructor(private readonly root: string) {}

  static sha256(data: Buffer | string): string {
    return crypto.createHash('sha256').update(data).digest('hex');
  }

  pathFor(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new MesaError('STORAGE_FAILED', `hash inválido ${sha256.slice(0, 12)}`);
    return path.join(this.root, sha256.slice(0, 2), sha256.slice(2));
  }

  async put(data: Buffer | string): Promise<string> {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const sha = BlobStore.sha256(buf);
    const file = this.pathFor(sha);
    try {
      if (fs.existsSync(file)) return sha;
      await fs.promises.mkdir(path.dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
      const fh = await fs.promises.open(tmp, 'w');
      try {
        await fh.writeFile(buf);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fs.promises.rename(tmp, file);
      return sha;
    } catch (err) {
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
