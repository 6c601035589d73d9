import fs from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { App } from '../../../src/app.ts';
import { syncCommitted } from '../../../src/db/knex.ts';
import { isMesaError } from '../../../src/errors.ts';
import { BlobStore } from '../../../src/storage/blobs.ts';
import { keepOriginals, ORIGINAL_IN_DB_MAX, readOriginal } from '../../../src/storage/originals.ts';
import { onPostgres, testApp } from '../../support/app.ts';
import { mail } from '../../support/mail.ts';

/** src/storage/originals.ts: where the raw source of each kept mail lives, on both databases. */
let app: App;
afterEach(async () => {
  vi.restoreAllMocks();
  await app?.close();
});

const rawRows = async (a: App) =>
  (await a.db('raw_sources').select('sha256', 'size')).map((r) => [r.sha256, Number(r.size)]);

describe('originals', () => {
  it('a new case keeps its raw source as a row committed with the case, with no file in the blob store', async () => {
    app = await testApp();
    const raw = mail(
      {
        From: 'Ana <ana@cliente.co>',
        To: 'soporte@mesa.test',
        Subject: 'No carga el reporte',
        'Message-ID': '<o1@cliente.co>',
      },
      'El reporte de ventas no carga desde ayer.',
    );
    expect(await app.ingest.ingest(raw, { kind: 'stdin' })).toMatchObject({ outcome: 'accepted', effect: 'new_case' });
    const sha = BlobStore.sha256(raw);
    expect(await rawRows(app)).toEqual([[sha, raw.length]]);
    expect(fs.existsSync(app.blobs.pathFor(sha))).toBe(false);
    expect((await readOriginal(app.db, app.blobs, sha)).equals(raw)).toBe(true);
    const message = await app.db('messages').first('raw_sha256');
    expect(message.raw_sha256).toBe(sha);
  });

  it('an ignored mail keeps no original (nothing names it), and keeping the same bytes twice is one row', async () => {
    app = await testApp();
    const auto = mail(
      {
        From: 'ana@cliente.co',
        To: 'soporte@mesa.test',
        Subject: 'Fuera de la oficina',
        'Message-ID': '<o2@cliente.co>',
        'Auto-Submitted': 'auto-replied',
      },
      'Vuelvo el lunes.',
    );
    expect(await app.ingest.ingest(auto, { kind: 'stdin' })).toMatchObject({ outcome: 'ignored' });
    expect(await rawRows(app)).toEqual([]);
    const raw = Buffer.from('From: a@b.co\r\n\r\nhola');
    await app.db.transaction(async (trx) => {
      await keepOriginals(
        trx,
        app.blobs,
        [
          { sha256: BlobStore.sha256(raw), raw },
          { sha256: BlobStore.sha256(raw), raw },
        ],
        1,
      );
      await keepOriginals(trx, app.blobs, [{ sha256: BlobStore.sha256(raw), raw }], 2);
    });
    expect(await rawRows(app)).toEqual([[BlobStore.sha256(raw), raw.length]]);
  });

  it('a rolled-back transaction takes its original with it', async () => {
    app = await testApp();
    const raw = Buffer.from('From: a@b.co\r\n\r\nse deshace');
    await expect(
      app.db.transaction(async (trx) => {
        await keepOriginals(trx, app.blobs, [{ sha256: BlobStore.sha256(raw), raw }], 1);
        throw new Error('falla después');
      }),
    ).rejects.toThrow('falla después');
    expect(await rawRows(app)).toEqual([]);
    await expect(readOriginal(app.db, app.blobs, BlobStore.sha256(raw))).rejects.toSatisfy((err) =>
      isMesaError(err, 'ORIGINAL_MISSING'),
    );
  });

  it('an original over ORIGINAL_IN_DB_MAX is a file of the blob store, and one kept as a file by an older version is still read', async () => {
    app = await testApp();
    const big = Buffer.alloc(ORIGINAL_IN_DB_MAX + 1, 'a');
    const sha = BlobStore.sha256(big);
    await app.db.transaction((trx) => keepOriginals(trx, app.blobs, [{ sha256: sha, raw: big }], 1));
    expect(await rawRows(app)).toEqual([]);
    expect(fs.statSync(app.blobs.pathFor(sha)).size).toBe(big.length);
    expect((await readOriginal(app.db, app.blobs, sha)).equals(big)).toBe(true);

    const old = Buffer.from('From: antes@cliente.co\r\n\r\nguardado como archivo');
    const oldSha = await app.blobs.put(old);
    expect((await readOriginal(app.db, app.blobs, oldSha)).equals(old)).toBe(true);
  });

  it('a batch is flushed to disk once after its commit: an fdatasync of the SQLite WAL file (PostgreSQL syncs each commit itself)', async () => {
    app = await testApp();
    const open = vi.spyOn(fs.promises, 'open');
    const mails = [1, 2, 3].map((i) =>
      mail(
        {
          From: `c${i}@cliente.co`,
          To: 'soporte@mesa.test',
          Subject: `Consulta ${i}`,
          'Message-ID': `<f${i}@cliente.co>`,
        },
        `Texto ${i}.`,
      ),
    );
    const results = await app.ingest.ingestMany(mails.map((raw) => ({ raw, source: { kind: 'stdin' as const } })));
    expect(results.map((r) => r.outcome)).toEqual(['accepted', 'accepted', 'accepted']);
    const walOpens = open.mock.calls.filter(([file]) => String(file).endsWith('-wal'));
    if (onPostgres) {
      expect(walOpens).toEqual([]);
    } else {
      expect(walOpens).toEqual([[`${app.config.database.filename}-wal`, 'r']]);
      // Without a WAL file (everything checkpointed into the database file, which SQLite syncs) there is nothing to do.
      const gone = vi
        .spyOn(fs.promises, 'open')
        .mockRejectedValueOnce(Object.assign(new Error('no WAL'), { code: 'ENOENT' }));
      await expect(syncCommitted(app.db)).resolves.toBeUndefined();
      expect(gone).toHaveBeenCalled();
    }
  });
});
