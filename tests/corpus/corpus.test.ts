import { describe, expect, it } from 'vitest';
import { collectCorpus, corpusRoot, runCorpus } from './report.ts';
import { CORPUS_DIR } from '../support/corpus.ts';

/**
 * The public corpus (tests/support/corpus.ts) through the real ingest path: no crash, no hang, exactly one recorded
 * outcome per mail. A bounded, evenly spread sample (every group of the corpus represented) keeps the suite
 * fast on PostgreSQL too; MESA_CORPUS_ALL=1 runs all of it, and `npm run corpus` prints the full figures.
 * Without the corpus folder the test says so and passes.
 */
describe('public corpus', () => {
  it('gives every corpus mail exactly one recorded outcome, with no crash and no hang', async () => {
    const root = corpusRoot();
    if (!root) {
      console.warn(`corpus: ${CORPUS_DIR} is absent; nothing to check here`);
      return;
    }
    const all = collectCorpus(root);
    expect(all.length).toBeGreaterThan(1000);
    const step = process.env.MESA_CORPUS_ALL ? 1 : Math.ceil(all.length / 300);
    const items = all.filter((_, i) => i % step === 0);
    const rep = await runCorpus(items, { timeoutMs: 20_000 });
    expect(rep.mailsRead).toBe(items.length);
    expect(rep.items.filter((r) => r.label === 'crash' || r.label === 'hang')).toEqual([]);
    expect(rep.notExactlyOneOutcome).toEqual([]);
    expect(rep.items.filter((r) => r.label.startsWith('tempfail'))).toEqual([]);
  }, 240_000);
});
