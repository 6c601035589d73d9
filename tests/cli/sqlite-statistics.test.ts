import { spawn } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { silentLogger } from '../../src/logger.ts';
import { cliEnv } from '../support/cli.ts';
import { waitFor } from '../support/wait.ts';

const BIN = path.resolve(import.meta.dirname, '../../src/bin.js');

/** STAT4 statistics make every indexed lookup of the ingest be planned again (src/db/knex.ts hasStat4Samples). */
it('mesa start warns, and still starts, when an operator ran ANALYZE on the SQLite database; not once they are deleted', async () => {
  const { config, env } = await cliEnv({ HTTP_PORT: '0', LOG_LEVEL: 'info' });
  const app = await createApp(config, silentLogger);
  await app.db('ingest_ledger').insert([1, 2, 3].map((uid) => ({
    source_key: `imap:support:INBOX:1:${uid}`, mailbox: 'support', uidvalidity: 1, uid, message_id: `m${uid}@cliente.co`,
    content_hash: `hash${uid}`, outcome: 'accepted', created_at: Date.now(),
  })));
  await app.db.raw('ANALYZE');
  await app.close();

  const start = async () => {
    const child = spawn(process.execPath, [BIN, 'start'], { cwd: env.DATA_DIR, env: { ...process.env, ...env } as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor(`startup line\n${out}`, () => /Mesa en marcha en http/.test(out), 30_000);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    return out;
  };

  expect(await start()).toMatch(/estadísticas STAT4.*DELETE FROM sqlite_stat4/);

  const again = await createApp(config, silentLogger);
  await again.db.raw('DELETE FROM sqlite_stat4');
  await again.close();
  expect(await start()).not.toMatch(/STAT4/);
}, 60_000);
