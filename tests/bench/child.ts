import { bundleDir } from '../../src/bundled.ts';
import { bareIngest, bareSend, pgStore, sqliteStore } from './limits.ts';
import { mesaIngest, mesaNotify } from './phases.ts';

/**
 * A measured process (tests/bench/runner.ts): runs one phase and prints one JSON line, the result, with the runtime it
 * ran under: "bundle" (esbuild, as `mesa start` runs; tests/bench/launch.js) or "tsx" (BENCH_RUNTIME=tsx).
 */
const runtime = bundleDir() ? 'bundle' : 'tsx';
const job = JSON.parse(process.argv[2]);
const run: Record<string, () => Promise<unknown>> = {
  'bare-ingest': () => bareIngest(job.imap, job.expected, job.warm, sqliteStore()),
  'bare-ingest-pg': async () => bareIngest(job.imap, job.expected, job.warm, await pgStore(job.databaseUrl)),
  'mesa-ingest': () => mesaIngest(job.imap, job.expected, job.mesa, job.seed, job.warm),
  'bare-send': () => bareSend(job.smtp, job.count, job.sample, job.poolSize, job.warm),
  'mesa-notify': () => mesaNotify(job.smtp, job.count, job.mesa, job.warm),
};
try {
  const result = await run[job.phase]();
  process.stdout.write(`\n@@RESULT ${JSON.stringify({ ...(result as object), runtime })}\n`);
  process.exit(0);
} catch (err) {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
}
