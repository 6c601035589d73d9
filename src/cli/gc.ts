import type { Config } from '../config.ts';
import { collectGarbage } from '../jobs/housekeeping.ts';
import { withApp } from './commands.ts';
import { EXIT } from './env.ts';
import { jsonForTerminal } from './format.ts';

/**
 * `mesa gc`: removes the files of DATA_DIR/blobs that no row names and that are older than BLOB_GC_GRACE_HOURS (the
 * scheduled jobs of `mesa start` do the same at each run). Safe while `mesa start` is ingesting: src/storage/gc.ts.
 */
export async function gcCommand(config: Config, opts: { json?: boolean }): Promise<number> {
  return withApp(config, async (app) => {
    const r = await collectGarbage(app.db, app.config, app.blobs);
    if (opts.json) {
      process.stdout.write(`${jsonForTerminal(r)}\n`);
      return EXIT.OK;
    }
    const mb = (r.removedBytes / 1024 / 1024).toFixed(1);
    process.stdout.write(
      `Archivos revisados: ${r.examined}; borrados sin uso: ${r.removed} (${mb} MB); ` +
        `temporales abandonados: ${r.temporaryRemoved}.\n`,
    );
    process.stdout.write(`(Solo se borran los de más de ${config.storage.blobGcGraceHours} h: BLOB_GC_GRACE_HOURS.)\n`);
    return EXIT.OK;
  });
}
