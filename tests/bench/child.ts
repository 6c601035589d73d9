import { bareIngest, bareSend, pgStore, sqliteStore } from './limits.ts';
import { mesaIngest, mesaNotify } from './phases.ts';

/**
 * A measured process (tests/bench/runner.ts): runs one phase and prints one JSON line, the result, with the runtime it
 * ran under: "bundle" (built by scripts/build.mjs, as `mesa start` runs) or "tsx" (BENCH_RUNTIME=tsx, the sources).
 */
const runtime = import.meta.url.endsWith('.js') ? 'bundle' : 'tsx';
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
