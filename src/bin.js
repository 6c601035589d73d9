#!/usr/bin/env node
// The `mesa` executable: runs the esbuild bundle of src/ (src/bundle.js says why, and how it is built and cached).
// Anything that stops the bundle (a read-only node_modules, esbuild missing, a package esbuild cannot bundle) falls
// back to running the sources through tsx, as before. MESA_NO_BUNDLE=1 forces that path.
import { cachedBundle, loadTypeScript, runBundle } from './bundle.js';

const bundle = process.env.MESA_NO_BUNDLE ? undefined : await cachedBundle().catch((err) => {
  // Still works (through tsx), only slower to start: say so once, so that a bundle that stopped building is seen.
  process.stderr.write(`mesa: aviso: sin paquete precompilado (${String(err?.message ?? err).split('\n')[0]}); se usa tsx\n`);
  return undefined;
});
if (bundle) {
  await runBundle(bundle, 'cli.mjs');
} else {
  await loadTypeScript();
  await import('./cli.ts');
}
