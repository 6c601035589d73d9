import { build, distIsStale } from '../../scripts/build.mjs';

/**
 * Tests spawn the built `mesa` (tests/support/built.ts), as users run it. `npm install` builds dist/ (the `prepare`
 * script); this rebuilds it once before the suite when a source, migration or template changed since, so that a test
 * never runs yesterday's build.
 */
export default async function setup(): Promise<void> {
  if (distIsStale()) await build();
}
