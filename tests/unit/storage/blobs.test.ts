import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { BlobStore } from '../../../src/storage/blobs.ts';

describe('blob store', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });
  const store = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-blobs-'));
    dirs.push(dir);
    return new BlobStore(dir);
  };

  it('stores originals and derived blobs by content, creating the fan-out directory on first use', async () => {
    const blobs = store();
    const raw = Buffer.from('From: a@b.c\r\n\r\nhola');
    const sha = await blobs.put(raw);
    expect(sha).toBe(BlobStore.sha256(raw));
    expect(await blobs.get(sha)).toEqual(raw);
    const html = await blobs.put('<p>hola</p>', { derived: true });
    expect((await blobs.get(html)).toString()).toBe('<p>hola</p>');
    expect(await blobs.put(raw)).toBe(sha);
  });

  it('writes a blob again when a crash left its file short (derived blobs are not fsynced)', async () => {
    const blobs = store();
    const data = Buffer.from('contenido de un adjunto extraído');
    const sha = await blobs.put(data, { derived: true });
    fs.writeFileSync(blobs.pathFor(sha), ''); // what delayed allocation can leave after a power loss
    expect(await blobs.put(data, { derived: true })).toBe(sha);
    expect(await blobs.get(sha)).toEqual(data);
  });

  it('stores a large stream by its hash through a temporary file, none left over, and says STORAGE_FAILED when the stream breaks', async () => {
    const blobs = store();
    const data = crypto.randomBytes(1_500_000); // above the in-memory limit: written as it arrives
    const chunks = () =>
      Readable.from([data.subarray(0, 700_000), data.subarray(700_000, 1_200_000), data.subarray(1_200_000)]);
    const first = await blobs.putStream(chunks());
    expect(first).toEqual({ sha256: BlobStore.sha256(data), size: data.length });
    expect((await blobs.get(first.sha256)).equals(data)).toBe(true);
    expect(await blobs.putStream(chunks())).toEqual(first); // same content: same blob
    let sent = 0;
    const broken = new Readable({
      read() {
        if (sent++ < 2)
          this.push(data.subarray(0, 700_000)); // past the limit, so a temporary file exists when it breaks
        else this.destroy(new Error('conexión cortada'));
      },
    });
    const err = await blobs.putStream(broken).catch((e) => e);
    expect(err).toMatchObject({ code: 'STORAGE_FAILED', retryable: true });
    expect(fs.readdirSync(path.join(path.dirname(path.dirname(blobs.pathFor(first.sha256))), 'tmp'))).toEqual([]);
  });

  it('stores a small stream from memory: the same content again writes no file at all', async () => {
    const blobs = store();
    const logo = crypto.randomBytes(20_000);
    const first = await blobs.putStream(Readable.from([logo.subarray(0, 5000), logo.subarray(5000)]));
    expect(first).toEqual({ sha256: BlobStore.sha256(logo), size: logo.length });
    expect((await blobs.get(first.sha256)).equals(logo)).toBe(true);
    const file = blobs.pathFor(first.sha256);
    const before = fs.statSync(file);
    const dir = path.dirname(file);
    expect(await blobs.putStream(Readable.from([logo]))).toEqual(first);
    // Not written again (the same file), only touched: `mesa gc` then sees it in use (tests/storage/gc.test.ts).
    expect(fs.statSync(file).ino).toBe(before.ino);
    expect(fs.statSync(file).mtimeMs).toBeGreaterThanOrEqual(before.mtimeMs);
    expect(fs.readdirSync(dir)).toEqual([path.basename(file)]); // no temporary file either
    expect(fs.existsSync(path.join(path.dirname(dir), 'tmp'))).toBe(false);
    const err = await blobs
      .putStream(
        new Readable({
          read() {
            this.destroy(new Error('conexión cortada'));
          },
        }),
      )
      .catch((e) => e);
    expect(err).toMatchObject({ code: 'STORAGE_FAILED', retryable: true });
  });

  it('touches a blob stored again only when its last touch is old, so a recent one costs no write', async () => {
    const blobs = store();
    const logo = Buffer.from('el logo de la firma');
    const sha = await blobs.put(logo, { derived: true });
    const file = blobs.pathFor(sha);
    const aMinuteAgo = new Date(Date.now() - 60_000);
    fs.utimesSync(file, aMinuteAgo, aMinuteAgo);
    await blobs.put(logo, { derived: true });
    // Not touched: still a minute old (file times are not exact to the millisecond).
    expect(Math.abs(fs.statSync(file).mtimeMs - aMinuteAgo.getTime())).toBeLessThan(2);
    // Old enough that `mesa gc` may look at it soon: touched, so it counts as in use.
    const yesterday = new Date(Date.now() - 24 * 3600_000);
    fs.utimesSync(file, yesterday, yesterday);
    const before = Date.now();
    await blobs.put(logo, { derived: true });
    expect(fs.statSync(file).mtimeMs).toBeGreaterThanOrEqual(before - 1000);
  });

  it('stages an upload in a temporary file, refuses one over its limit leaving nothing, and adopts it by its hash', async () => {
    const blobs = store();
    const chunks = (n: number, size: number) =>
      Readable.from(Array.from({ length: n }, (_, i) => Buffer.alloc(size, i)));
    const tmpFiles = () =>
      fs.existsSync(path.join(blobs.root, 'tmp')) ? fs.readdirSync(path.join(blobs.root, 'tmp')) : [];
    expect(await blobs.stage(chunks(4, 1000), 3999)).toBe('too-large');
    expect(tmpFiles()).toEqual([]);
    const staged = await blobs.stage(chunks(4, 1000), 4000);
    if (staged === 'too-large') throw new Error('no cabía');
    const bytes = Buffer.concat([0, 1, 2, 3].map((i) => Buffer.alloc(1000, i)));
    expect({ sha256: staged.sha256, size: staged.size }).toEqual({ sha256: BlobStore.sha256(bytes), size: 4000 });
    expect(blobs.has(staged.sha256)).toBe(false);
    expect(await blobs.adopt(staged)).toBe(staged.sha256);
    expect((await blobs.get(staged.sha256)).equals(bytes)).toBe(true);
    // The same bytes again: the blob is there already, the second staged file just goes.
    const again = await blobs.stage(chunks(4, 1000), 4000);
    if (again === 'too-large') throw new Error('no cabía');
    await blobs.adopt(again);
    expect(tmpFiles()).toEqual([]);
    // A staged file not kept is removed.
    const dropped = await blobs.stage(chunks(1, 10), 100);
    if (dropped === 'too-large') throw new Error('no cabía');
    await blobs.discard([dropped]);
    expect(tmpFiles()).toEqual([]);
  });
});
