import { expect, it } from 'vitest';
import { createApp } from '../../../src/app.ts';
import { silentLogger } from '../../../src/logger.ts';
import { cliEnv, spawnCli } from '../../support/cli.ts';
import { waitFor } from '../../support/wait.ts';

/** STAT4 statistics make every indexed lookup of the ingest be planned again (src/db/knex.ts hasStat4Samples). */
it('mesa start warns, and still starts, when an operator ran ANALYZE on the SQLite database; not once they are deleted', async () => {
  const { config, env } = await cliEnv({ HTTP_PORT: '0', LOG_LEVEL: 'info' });
  const app = await createApp(config, silentLogger);
  await app.db('ingest_ledger').insert(
    [1, 2, 3].map((uid) => ({
      source_key: `imap:support:INBOX:1:${uid}`,
      mailbox: 'support',
      uidvalidity: 1,
      uid,
      message_id: `m${uid}@cliente.co`,
      content_hash: `hash${uid}`,
      outcome: 'accepted',
      created_at: Date.now(),
    })),
  );
  await app.db.raw('ANALYZE');
  await app.close();

  const start = async () => {
    const mesa = spawnCli(['start'], { env });
    try {
      await waitFor(`startup line\n${mesa.output()}`, () => /Mesa en marcha en http/.test(mesa.output()), 30_000);
    } finally {
      mesa.child.kill('SIGTERM');
    }
    expect(await mesa.exited).toBe(0);
    return mesa.output();
  };

  expect(await start()).toMatch(/estadísticas STAT4.*DELETE FROM sqlite_stat4/);

  const again = await createApp(config, silentLogger);
  await again.db.raw('DELETE FROM sqlite_stat4');
  await again.close();
  expect(await start()).not.toMatch(/STAT4/);
}, 60_000);
