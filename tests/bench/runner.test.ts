import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MESA_ENV } from './phases.ts';
import { benchBundle, runChild } from './runner.ts';
import { startBenchSink, type BenchSink } from './sink.ts';

/** The bench measures the code `mesa start` runs: its measured processes run an esbuild bundle, not tsx. */
describe('bench measured processes', () => {
  let sink: BenchSink;
  beforeAll(async () => { sink = await startBenchSink(); });
  afterAll(async () => { await sink.stop(); });

  it('runs Mesa from an esbuild bundle built as `mesa` builds its own, parse thread included', async () => {
    const result = await runChild({ phase: 'mesa-notify', smtp: { host: sink.host, port: sink.port }, count: 4, mesa: { env: MESA_ENV } }, { quiet: true });
    expect(result.runtime).toBe('bundle');
    expect(result.count).toBe(4);
    // Four new cases, each confirmed to its customer by the bundled outbox dispatcher.
    expect(sink.mails).toHaveLength(4);
    expect(new Set(sink.mails.map((m) => m.inReplyTo)).size).toBe(4);
    const dir = await benchBundle();
    expect(path.relative(path.resolve('node_modules/.cache/mesa-bench'), dir)).not.toMatch(/^\.\./);
    for (const file of ['child.mjs', 'parse-worker.mjs']) expect(fs.existsSync(path.join(dir, file))).toBe(true);
  });
});
