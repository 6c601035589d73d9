import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory from 'knex';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.ts';
import type { IngestResult } from '../../src/inbound/ingest.ts';
import { loadConfig } from '../../src/config.ts';
import { silentLogger } from '../../src/logger.ts';
import { testEnv } from '../support/app.ts';
import { freshDatabase, pgReachable } from './support/pg.ts';

// Several instances only make sense on PostgreSQL; these run when the local server (MESA_TEST_PG_URL) answers.
const ROOT = path.resolve(import.meta.dirname, '../..');
const apps: App[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

const mail = (i: number) => Buffer.from(
  `From: Persona ${i} <p${i}@org${i % 7}.co>\r\nTo: soporte@mesa.test\r\nSubject: Problema ${i}\r\nMessage-ID: <scale-${i}@x>\r\n` +
  `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nNo funciona el módulo ${i}.\r\n`, 'utf8');

function runMigrate(databaseUrl: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-mig-'));
    const child = spawn(process.execPath, [path.join(ROOT, 'src/bin.js'), 'migrate'], {
      cwd: ROOT, env: { ...process.env, ...testEnv(dataDir), DATABASE_URL: databaseUrl }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

describe.runIf(await pgReachable())('several instances on one PostgreSQL', () => {
  it('migrates an empty database from three processes started at once, each migration applied once', async () => {
    const url = await freshDatabase('mesa_mig');
    const runs = await Promise.all([runMigrate(url), runMigrate(url), runMigrate(url)]);
    expect(runs.map((r) => r.code), runs.map((r) => r.stderr).join('\n')).toEqual([0, 0, 0]);
    const db = knexFactory({ client: 'pg', connection: url });
    try {
      const names = (await db('knex_migrations').select('name')).map((r: any) => r.name);
      const files = fs.readdirSync(path.join(ROOT, 'migrations')).filter((f) => /^\d+_.+\.ts$/.test(f)).map((f) => f.replace(/\.ts$/, ''));
      expect(names.sort()).toEqual(files.sort());
      expect(await db.schema.hasTable('leases')).toBe(true);
    } finally {
      await db.destroy();
    }
  });

  it('keeps case numbers consecutive, with no duplicate, when three instances ingest at once', async () => {
    const url = await freshDatabase('mesa_num');
    for (let i = 0; i < 3; i++) {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-num-'));
      apps.push(await createApp(loadConfig(testEnv(dataDir, { DATABASE_URL: url })), silentLogger));
    }
    const N = 90;
    // Each instance works like a poller would: a few mails in flight, a tempfail (pool exhausted on a loaded
    // machine) retried. Twelve transactions at once race for the counter row.
    const lanes = (make: (i: number) => Promise<IngestResult>) => Promise.all(Array.from({ length: 12 }, async (_, lane) => {
      const out: IngestResult[] = [];
      for (let i = lane; i < N; i += 12) {
        let r = await make(i);
        for (let attempt = 0; r.outcome === 'tempfail' && attempt < 5; attempt++) r = await make(i);
        out.push(r);
      }
      return out;
    })).then((l) => l.flat());
    const results = await lanes((i) => apps[i % 3].ingest.ingest(mail(i), { kind: 'stdin' }));
    expect(results.filter((r) => r.outcome !== 'accepted')).toEqual([]);
    const numbers = (await apps[0].db('tickets').select('number')).map((r: any) => Number(r.number)).sort((a, b) => a - b);
    expect(numbers).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    // The same mails again as other deliveries, through other instances at once: each is a duplicate, none opens.
    const again = await lanes((i) => apps[(i + 1) % 3].ingest.ingest(mail(i), { kind: 'imap', account: 'support', folder: 'INBOX', uidvalidity: 1, uid: i + 1 }));
    expect(again.map((r) => r.outcome)).toEqual(Array(N).fill('ignored'));
    expect(Number((await apps[0].db('tickets').count({ n: '*' }))[0].n)).toBe(N);
  });
});
