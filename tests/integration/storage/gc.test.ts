import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { InThreadParser } from '../../../src/inbound/parser.ts';
import { runJobs } from '../../../src/jobs/run.ts';
import { BlobStore } from '../../../src/storage/blobs.ts';
import { testApp, testEnv } from '../../support/app.ts';
import { runCli } from '../../support/cli.ts';

/**
 * Issue 23: an attachment over MAX_ATTACHMENT_BYTES ("kept only in the original") is written to no blob, and `mesa
 * gc` (also run by the scheduled jobs) removes blobs no row names, never one that an ingest still in progress has
 * written or reused.
 */
let app: App | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const sha = BlobStore.sha256;
const DAY = 86_400_000;

function withAttachments(files: Array<{ name: string; data: Buffer }>, id = crypto.randomUUID()): Buffer {
  const lines = [
    'From: Carla <carla@cliente.co>',
    'To: soporte@mesa.test',
    'Subject: Adjuntos',
    `Message-ID: <${id}@cliente.co>`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b"',
    '',
    '--b',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Van los archivos.',
  ];
  for (const f of files) {
    lines.push(
      '--b',
      `Content-Type: application/octet-stream; name="${f.name}"`,
      `Content-Disposition: attachment; filename="${f.name}"`,
      'Content-Transfer-Encoding: base64',
      '',
      f.data.toString('base64').replace(/.{76}/g, '$&\r\n'),
    );
  }
  lines.push('--b--', '');
  return Buffer.from(lines.join('\r\n'));
}

/** Every blob file (and leftover) under DATA_DIR/blobs, by name. */
function blobFiles(a: App): string[] {
  const out: string[] = [];
  const walk = (dir: string, prefix: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(dir, e.name), prefix + e.name);
      else out.push(prefix + e.name);
    }
  };
  if (fs.existsSync(a.blobs.root)) walk(a.blobs.root, '');
  return out;
}

const age = (a: App, shaOf: string, ms: number) => {
  const when = new Date(Date.now() - ms);
  fs.utimesSync(a.blobs.pathFor(shaOf), when, when);
};

describe('refused attachments', () => {
  it('writes no blob for an attachment over MAX_ATTACHMENT_BYTES, in memory or spilled, and keeps the others', async () => {
    app = await testApp({ MAX_ATTACHMENT_BYTES: '300000' });
    const kept = crypto.randomBytes(200_000);
    const refusedSmall = crypto.randomBytes(500_000); // gathered in memory by the blob store
    const refusedLarge = crypto.randomBytes(2_000_000); // spilled to a temporary file by the blob store
    const r = await app.ingest.ingest(
      withAttachments([
        { name: 'ok.bin', data: kept },
        { name: 'medio.bin', data: refusedSmall },
        { name: 'grande.bin', data: refusedLarge },
      ]),
      { kind: 'stdin' },
    );
    expect(r).toMatchObject({ outcome: 'accepted', effect: 'new_case' });
    const names = blobFiles(app);
    expect(names).toContain(sha(kept));
    expect(names).not.toContain(sha(refusedSmall));
    expect(names).not.toContain(sha(refusedLarge));
    expect(names.filter((n) => n.startsWith('tmp') || n.endsWith('.tmp'))).toEqual([]);
    const message = await app.db('messages').first();
    expect(message.body_text).toContain(
      'guardados solo en el original: medio.bin (500000 bytes), grande.bin (2000000 bytes)',
    );
    expect((await app.db('attachments')).map((a: any) => a.filename)).toEqual(['ok.bin']);
  });
});

describe('mesa gc', () => {
  it('removes old unnamed blobs, keeps named and young ones, from the CLI and from the scheduled jobs', async () => {
    app = await testApp();
    const file = crypto.randomBytes(100_000);
    await app.ingest.ingest(withAttachments([{ name: 'factura.pdf', data: file }]), { kind: 'stdin' });
    const named = blobFiles(app);
    expect(named).toContain(sha(file));
    for (const n of named) age(app, n, 3 * DAY); // named blobs are kept however old
    const orphan = await app.blobs.put(crypto.randomBytes(5000), { derived: true });
    age(app, orphan, 2 * DAY);
    const young = await app.blobs.put(crypto.randomBytes(5000), { derived: true });
    // A write that died half-way, long ago.
    const leftover = `${app.blobs.pathFor(orphan)}.123.abcd.tmp`;
    fs.writeFileSync(leftover, 'medio');
    fs.utimesSync(leftover, new Date(Date.now() - 2 * DAY), new Date(Date.now() - 2 * DAY));

    const env = {
      ...testEnv(app.config.dataDir),
      DATABASE_URL: app.config.database.client === 'pg' ? app.config.database.url : app.config.database.filename,
    };
    const gc = await runCli(['gc', '--json'], { env });
    expect(gc.code).toBe(0);
    expect(JSON.parse(gc.stdout)).toMatchObject({ removed: 1, temporaryRemoved: 1 });
    const after = blobFiles(app);
    expect(after).not.toContain(orphan);
    expect(after).toContain(young);
    for (const n of named) expect(after).toContain(n);

    const second = await app.blobs.put(crypto.randomBytes(5000), { derived: true });
    age(app, second, 2 * DAY);
    const deps = {
      db: app.db,
      config: app.config,
      cases: app.cases,
      policy: app.policy,
      logger: app.logger,
      blobs: app.blobs,
    };
    const report = await runJobs(deps, Date.now());
    expect(report.removedBlobs).toBe(1);
    expect(blobFiles(app)).not.toContain(second);
    // Once a day: the next run of the jobs leaves a new orphan for tomorrow.
    const third = await app.blobs.put(crypto.randomBytes(5000), { derived: true });
    age(app, third, 2 * DAY);
    expect((await runJobs(deps, Date.now())).removedBlobs).toBe(0);
    expect(blobFiles(app)).toContain(third);
  });

  it('never removes a blob that an ingest not yet committed has written or reused', async () => {
    app = await testApp();
    const file = crypto.randomBytes(80_000);
    // The same file came before in a mail that was parsed and never recorded (parsed ahead, then a stop): an old
    // orphan, exactly what gc removes.
    const orphan = await app.blobs.put(file, { derived: true });
    age(app, orphan, 2 * DAY);
    const unrelated = await app.blobs.put(crypto.randomBytes(3000), { derived: true });
    age(app, unrelated, 2 * DAY);

    // A new mail with that file is parsed (by the ingest's own parse) and its transaction has not committed yet:
    // the database names nothing, but the parse reused the blob, and that counts as using it.
    const raw = withAttachments([{ name: 'otra-vez.pdf', data: file }]);
    const parsed = await new InThreadParser(app.blobs).parse(raw);
    expect(parsed.attachments[0].sha256).toBe(orphan);
    const { collectBlobs } = await import('../../../src/storage/gc.ts');
    const r = await collectBlobs(app.db, app.blobs, { graceMs: DAY });
    expect(r.removed).toBe(1); // the unrelated one
    expect(app.blobs.has(unrelated)).toBe(false);
    expect(app.blobs.has(orphan)).toBe(true);

    // The ingest commits: the blob is named, and stays named after any later gc.
    expect(await app.ingest.ingest(raw, { kind: 'stdin' })).toMatchObject({ outcome: 'accepted' });
    age(app, orphan, 3 * DAY);
    await collectBlobs(app.db, app.blobs, { graceMs: DAY });
    expect((await app.blobs.get(orphan)).equals(file)).toBe(true);
  });
});
