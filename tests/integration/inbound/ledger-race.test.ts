import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, expect, it } from 'vitest';
import { createApp, type App } from '../../../src/app.ts';
import { createLogger } from '../../../src/logger.ts';
import { BlobStore } from '../../../src/storage/blobs.ts';
import { testConfig } from '../../support/app.ts';
import { BUILT_PARSE_WORKER } from '../../support/built.ts';
import { heldParser } from '../../support/held-parser.ts';
import { imapSource, rowCount } from '../../support/ingest-batches.ts';
import { mail } from '../../support/mail.ts';

/**
 * A batch of a mailbox whose mail another reader records between the batch's ledger lookup and its write (two
 * instances overlapping for a moment on one mailbox, or a mailbox offered twice): the ledger's unique source key
 * refuses the second row, and that is not a bug of the mail. The batch is offered again and takes the ledger's
 * answer; before, the careful rerun logged «fallo inesperado … va a cuarentena» for each such mail, for a quarantine
 * that then failed on the same key and was never made.
 */
let app: App | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const raws = [1, 2, 3].map((i) =>
  mail(
    {
      From: `Cliente ${i} <cliente${i}@empresa.co>`,
      To: 'soporte@mesa.test',
      Subject: `El reporte ${i} no abre`,
      'Message-ID': `<reporte-${i}@empresa.co>`,
    },
    `El reporte ${i} queda en blanco.`,
  ),
);

it('takes the ledger row another reader wrote meanwhile, with no «fallo inesperado» and no quarantine', async () => {
  const lines: string[] = [];
  const logger = createLogger({
    level: 'info',
    destination: new Writable({ write: (chunk, _enc, done) => done(void lines.push(String(chunk))) }),
  });
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const config = await testConfig();
  app = await createApp(config, logger, {
    parseWorkerUrl: BUILT_PARSE_WORKER,
    // The batch's first mail waits until the other reader has recorded its third one.
    parser: heldParser(new BlobStore(path.join(config.dataDir, 'blobs')), (call, parsed) =>
      call === 0 ? gate.then(() => parsed) : parsed,
    ),
  });
  const batch = app.ingest.ingestMany(raws.map((raw, i) => ({ raw, source: imapSource(i + 1) })));
  const other = await app.ingest.ingestMany([{ raw: raws[2], source: imapSource(3) }]);
  expect(other.map((r) => r.outcome)).toEqual(['accepted']);
  release();
  const results = await batch;

  expect(results.map((r) => r.outcome)).toEqual(['accepted', 'accepted', 'accepted']);
  expect(results[2].alreadyProcessed).toBe(true);
  expect(results[2].ticketNumber).toBe(other[0].ticketNumber);
  expect(await rowCount(app, 'tickets')).toBe(3);
  expect(await rowCount(app, 'ingest_ledger')).toBe(3);
  expect(await rowCount(app, 'quarantine')).toBe(0);
  expect(lines.filter((l) => /"level":(50|60)/.test(l))).toEqual([]);
});
