import type { App } from '../../src/app.ts';
import type { IngestResult } from '../../src/inbound/index.ts';
import type { RoundIngest } from '../../src/inbound/mailbox-round.ts';

type Items = Parameters<App['ingest']['ingestMany']>[0];

/**
 * The app with its real ingest, observed: a reader started on it (startPollers) goes through these hooks, each given
 * the real method to call when it likes, and every other method a reader uses goes to the real ingest untouched.
 * Typed as what the readers use (RoundIngest), so a method they come to need is one this must pass on.
 */
export function observedIngest(
  app: App,
  hooks: {
    ingestMany?: (items: Items, real: (items: Items) => Promise<IngestResult[]>) => Promise<IngestResult[]>;
    parseAhead?: (raws: readonly Buffer[], real: (raws: readonly Buffer[]) => void) => void;
  },
): App {
  const real = app.ingest;
  const ingest: RoundIngest = {
    tooLargeToRead: (size) => real.tooLargeToRead(size),
    keepTooLarge: (content) => real.keepTooLarge(content),
    readSource: (content) => real.readSource(content),
    parseAhead: (raws) => (hooks.parseAhead ?? ((r, go) => go(r)))(raws, (r) => real.parseAhead(r)),
    ingestMany: (items) => (hooks.ingestMany ?? ((i, go) => go(i)))(items, (i) => real.ingestMany(i)),
  };
  return { ...app, ingest } as unknown as App;
}
