#!/usr/bin/env node
// The `mesa` executable. Mesa is written in TypeScript and there is no build step between a checkout and a
// working command: the first run bundles src/ with esbuild (the compiler tsx itself uses) into
// node_modules/.cache/mesa/<hash of the sources>/, and later runs import that. Loading ~100 modules one by one
// through tsx's loader thread made `mesa start` take 2-3 s to answer /healthz on a loaded 2-core machine; the
// bundle takes about half that (and the process does not carry tsx's loader thread and its memory). Anything that stops the bundle (a read-only node_modules, esbuild
// missing) falls back to running the sources through tsx, as before. MESA_NO_BUNDLE=1 forces that path.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const SRC = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(SRC);

/** Registers tsx's loader (once): the fallback path, and the migrations (TypeScript files loaded by name). */
let tsx;
const loadTypeScript = () => (tsx ??= import('tsx/esm/api').then((m) => m.register()));
globalThis[Symbol.for('mesa.loadTypeScript')] = loadTypeScript;

const bundle = process.env.MESA_NO_BUNDLE ? undefined : await cachedBundle().catch(() => undefined);
if (bundle) {
  await import(pathToFileURL(bundle).href);
} else {
  await loadTypeScript();
  await import('./cli.ts');
}

async function cachedBundle() {
  const files = listSources(SRC).sort();
  const hash = crypto.createHash('sha256');
  for (const f of [...files, path.join(ROOT, 'tsconfig.json'), path.join(ROOT, 'package.json')]) {
    hash.update(path.relative(ROOT, f)).update('\0');
    hash.update(fs.readFileSync(f)).update('\0');
  }
  const dir = path.join(ROOT, 'node_modules', '.cache', 'mesa');
  const out = path.join(dir, hash.digest('hex').slice(0, 20));
  const entry = path.join(out, 'cli.mjs');
  if (!fs.existsSync(entry)) {
    const esbuild = await import('esbuild');
    fs.mkdirSync(dir, { recursive: true });
    // Bundles of earlier sources go once a day old (a running `mesa start` has loaded its chunks by then), and
    // leftovers of interrupted builds with them.
    for (const old of fs.readdirSync(dir)) {
      const p = path.join(dir, old);
      if (Date.now() - fs.statSync(p).mtimeMs > 86_400_000) fs.rmSync(p, { recursive: true, force: true });
    }
    // Built under a private name and renamed: two processes starting together never import half a bundle.
    const tmp = path.join(dir, `tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
    try {
      await esbuild.build({
        entryPoints: { cli: path.join(SRC, 'cli.ts') }, outdir: tmp, outExtension: { '.js': '.mjs' },
        // Splitting keeps each `await import()` of src/ a chunk of its own, so a command loads only what it uses
        // (in one file, every package any command imports would load on every run).
        bundle: true, splitting: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external',
        // Stack traces name src/ files and lines, as they did under tsx.
        sourcemap: 'linked', sourcesContent: false, logLevel: 'silent',
        plugins: [keepModuleUrls()],
      });
      fs.renameSync(tmp, out);
    } catch (err) {
      fs.rmSync(tmp, { recursive: true, force: true });
      if (!fs.existsSync(entry)) throw err; // else another process finished the same bundle first
    }
  }
  process.setSourceMapsEnabled(true);
  return entry;
}

function listSources(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? listSources(p) : /\.(ts|js|json)$/.test(e.name) ? [p] : [];
  });
}

/** Each module keeps its own `import.meta.url` (they find templates/, migrations/ and each other's files from it). */
function keepModuleUrls() {
  return {
    name: 'keep-module-urls',
    setup(build) {
      build.onLoad({ filter: /\.ts$/ }, async (args) => {
        const source = await fs.promises.readFile(args.path, 'utf8');
        return { contents: source.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)), loader: 'ts' };
      });
    },
  };
}
