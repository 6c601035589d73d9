// A measured bench process (tests/bench/runner.ts): runs the bench's bundle (tests/bench/child.ts with Mesa and its
// packages, built by src/bundle.js as `mesa` builds its own) the way src/bin.js runs `mesa`'s.
import { runBundle } from '../../src/bundle.js';

await runBundle(process.env.MESA_BENCH_BUNDLE, 'child.mjs');
