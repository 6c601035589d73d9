import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, DIST, distIsStale } from '../../scripts/build.mjs';

/**
 * What `npm install` builds (scripts/build.mjs), as the tests run it: the `mesa` executable that CLI tests spawn, and
 * the parse and compose threads' bodies (Node 20 cannot start a TypeScript file as a thread).
 * tests/support/build-setup.ts builds dist/ before the suite when it is missing or older than its sources.
 */
export const MESA_BIN = path.join(DIST, 'src', 'cli.js');
export const BUILT_PARSE_WORKER = pathToFileURL(path.join(DIST, 'src', 'inbound', 'parse-worker.js'));
export const BUILT_COMPOSE_WORKER = pathToFileURL(path.join(DIST, 'src', 'outbound', 'compose-worker.js'));

/** Builds dist/ if it is missing or older than its sources (scripts run with tsx that start a parse thread). */
export async function ensureBuilt(): Promise<void> {
  if (distIsStale()) await build();
}
