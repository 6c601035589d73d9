import { bareIngest, bareSend, mesaIngest, mesaNotify } from './phases.ts';

/** Child-process entry: `node --import tsx tests/bench/child.ts '<json>'`; prints one JSON line (the result). */
const job = JSON.parse(process.argv[2]);
const run: Record<string, () => Promise<unknown>> = {
  'bare-ingest': () => bareIngest(job.imap, job.expected),
  'mesa-ingest': () => mesaIngest(job.imap, job.expected, job.mesa, job.seed),
  'bare-send': () => bareSend(job.smtp, job.count, job.sample, job.poolSize),
  'mesa-notify': () => mesaNotify(job.smtp, job.count, job.mesa),
};
try {
  const result = await run[job.phase]();
  process.stdout.write(`\n@@RESULT ${JSON.stringify(result)}\n`);
  process.exit(0);
} catch (err) {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
}
