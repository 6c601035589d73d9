import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MESA_ENV } from './phases.ts';
import { benchBuild, removeBenchBuild, runChild } from './runner.ts';
import { startBenchSink, type BenchSink } from './sink.ts';

/** The bench measures the code `mesa start` runs: its measured processes run Mesa built as `npm install` builds it, not tsx. */
describe('bench measured processes', () => {
  let sink: BenchSink;
  beforeAll(async () => {
    sink = await startBenchSink();
  });
  afterAll(async () => {
    await sink.stop();
    removeBenchBuild();
  });

  it("runs Mesa from a build made as `mesa`'s own (scripts/build.mjs), parse thread and migrations included", async () => {
    const result = await runChild(
      { phase: 'mesa-notify', smtp: { host: sink.host, port: sink.port }, count: 4, mesa: { env: MESA_ENV } },
      { quiet: true },
    );
    expect(result.runtime).toBe('bundle');
    expect(result.count).toBe(4);
    // Four new cases, each confirmed to its customer by the bundled outbox dispatcher.
    expect(sink.mails).toHaveLength(4);
    expect(new Set(sink.mails.map((m) => m.inReplyTo)).size).toBe(4);
    const dir = await benchBuild();
    expect(path.relative(path.resolve('tests/.artifacts'), dir)).not.toMatch(/^\.\./);
    for (const file of ['src/bench-child.js', 'src/inbound/parse-worker.js', 'src/outbound/compose-worker.js'])
      expect(fs.existsSync(path.join(dir, file))).toBe(true);
    expect(fs.readdirSync(path.join(dir, 'migrations')).filter((f) => f.endsWith('.js')).length).toBe(
      fs.readdirSync('migrations').length,
    );
  });
});
