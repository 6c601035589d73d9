#!/usr/bin/env node
// Builds Mesa into dist/: `npm install` runs it (the `prepare` script), and `npm run build` by hand. The `mesa`
// command (package.json "bin") is dist/src/cli.js; `npm run dev` runs the sources with tsx instead.
//
// dist/ mirrors the repository, so that src/paths.ts finds every file by the same relative path in both:
//   dist/src/cli.js                  the command line (entry point)
//   dist/src/inbound/parse-worker.js the parse thread's body (entry point, started by src/inbound/parse-thread.ts)
//   dist/src/outbound/compose-worker.js the compose thread's body (entry point, src/outbound/compose-thread.ts)
//   dist/src/chunk-*.js              modules shared by the entry points, and each `await import()` of src/
//   dist/migrations/<name>.js        one per migrations/<name>.ts (knex records the name, not the file)
//   dist/templates/, dist/src/web/assets/, dist/src/demo/samples/   data files, copied
// The JavaScript packages are bundled too (see EXTERNAL for the ones that stay in node_modules): Node then compiles
// a few large files at start-up instead of resolving and reading several hundred package files one by one.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DIST = path.join(ROOT, 'dist');

/** What the build is made from: a change to any of these makes dist/ stale (tests/support/build-setup.ts). */
export const INPUTS = [
  'src',
  'migrations',
  'templates',
  'scripts',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
];

/** Data files read at run time, copied to the same place under dist/. */
const DATA = ['templates', 'src/web/assets', 'src/demo/samples'];

/**
 * Packages left outside the bundle, loaded from node_modules at run time: native addons (better-sqlite3, pg's
 * optional pg-native), knex's drivers for databases Mesa does not use (not installed), packages Mesa loads by name
 * on first need (mjml, date-holidays, mailauth: see their createRequire calls), and pino, whose worker-thread
 * transports find their files next to the package.
 */
const EXTERNAL = [
  'better-sqlite3',
  'pg',
  'pg-native',
  'pg-query-stream',
  'sqlite3',
  '@vscode/sqlite3',
  'mysql',
  'mysql2',
  'mariadb',
  'mariadb/*',
  'oracledb',
  'tedious',
  'mjml',
  'mjml/*',
  'date-holidays',
  'mailauth',
  'mailauth/*',
  'pino',
  'thread-stream',
];

/**
 * Mesa's entry points (relative to the repository): the command line, the parse and compose threads, and each
 * migration.
 * @returns {Array<string | { in: string, out: string }>}
 */
export function mesaEntryPoints() {
  const migrations = fs
    .readdirSync(path.join(ROOT, 'migrations'))
    .filter((f) => /^\d+_.+\.ts$/.test(f))
    .sort();
  return [
    'src/cli.ts',
    'src/inbound/parse-worker.ts',
    'src/outbound/compose-worker.ts',
    ...migrations.map((f) => `migrations/${f}`),
  ];
}

/**
 * Builds `entryPoints` (paths relative to the repository) into `outdir`, which it replaces. The bench builds its
 * measured processes with this same function (tests/bench/runner.ts), so that it measures what `mesa start` runs.
 * @param {{ outdir?: string, entryPoints?: Array<string | { in: string, out: string }> }} [options]
 */
export async function build({ outdir = DIST, entryPoints = mesaEntryPoints() } = {}) {
  const esbuild = await import('esbuild');
  fs.rmSync(outdir, { recursive: true, force: true });
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints,
    outdir,
    outbase: ROOT,
    // Shared code lies in dist/src/ beside cli.js, at the depth src/paths.ts expects (checked below).
    chunkNames: 'src/[name]-[hash]',
    // Splitting keeps each `await import()` of src/ a chunk of its own, so a command loads only what it uses.
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: EXTERNAL,
    // CommonJS packages inside an ES module bundle still `require()` Node's modules and the EXTERNAL packages.
    banner: {
      js: "import { createRequire as __mesaRequire } from 'node:module'; const require = __mesaRequire(import.meta.url);",
    },
    // Less to parse at start-up; names are kept, and stack traces name src/ files and lines (source maps).
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    sourcesContent: false,
    metafile: true,
    logLevel: 'warning',
  });
  checkPathsDepth(result.metafile, outdir);
  for (const dir of DATA) fs.cpSync(path.join(ROOT, dir), path.join(outdir, dir), { recursive: true });
  const cli = path.join(outdir, 'src', 'cli.js');
  if (fs.existsSync(cli)) fs.chmodSync(cli, 0o755);
  return outdir;
}

/** src/paths.ts finds everything relative to itself: whichever output file holds it must lie in <outdir>/src/. */
function checkPathsDepth(metafile, outdir) {
  for (const [file, output] of Object.entries(metafile.outputs)) {
    if (!output.inputs['src/paths.ts']) continue;
    if (path.dirname(path.resolve(ROOT, file)) !== path.join(outdir, 'src')) {
      throw new Error(`build: src/paths.ts quedó en ${file}; debe quedar directamente en ${path.join(outdir, 'src')}`);
    }
  }
}

/** The newest modification time among the build's inputs (ms). */
export function newestInput() {
  let newest = 0;
  const visit = (p) => {
    const st = fs.statSync(p, { throwIfNoEntry: false });
    if (!st) return;
    newest = Math.max(newest, st.mtimeMs);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) visit(path.join(p, e));
  };
  for (const input of INPUTS) visit(path.join(ROOT, input));
  return newest;
}

/** True when dist/ is missing or older than one of its inputs. */
export function distIsStale() {
  const built = fs.statSync(path.join(DIST, 'src', 'cli.js'), { throwIfNoEntry: false });
  return !built || built.mtimeMs < newestInput();
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const started = Date.now();
  await build();
  process.stdout.write(`mesa: compilado en dist/ (${Date.now() - started} ms)\n`);
}
