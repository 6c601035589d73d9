// How the `mesa` command runs (src/bin.js): Mesa is written in TypeScript and there is no build step between a
// checkout and a working command. The first run bundles src/ with esbuild (the compiler tsx itself uses) into
// node_modules/.cache/<name>/<hash of the sources and the lockfile>/, and later runs import that. Loading ~100 modules
// one by one through tsx's loader thread made `mesa start` take 2-3 s to answer /healthz on a loaded 2-core machine.
// The bundle holds the pure-JavaScript packages too (see EXTERNAL for the ones that stay outside): Node 20 then
// compiles a few large files instead of resolving, reading and wrapping ~900 package files one by one, which took
// `mesa start` to /healthz from ~1.4 s to ~0.9 s (`npm run bench`; tests/bench/README.md, third delivery).
// The benchmark builds its measured processes with the same function (tests/bench/runner.ts), so that what it
// measures is the code `mesa start` runs, not the same sources under tsx.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const SRC = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.dirname(SRC);
export const MIGRATIONS = path.join(ROOT, 'migrations');

/** The entry points of `mesa`'s own bundle: the command line, and the mail parse thread (src/inbound/parse-thread.ts). */
export const MESA_ENTRIES = { cli: path.join(SRC, 'cli.ts'), 'parse-worker': path.join(SRC, 'inbound', 'parse-worker.ts') };

/**
 * Each migration of migrations/ as an entry of its own, `migrations/<name>.mjs` in the bundle, which src/db/migrate.ts
 * imports by the same name as the .ts file (knex records names, not files). Before, the first `mesa start` or `mesa
 * migrate` on a new database registered tsx's loader to import them: a thread of its own, hooks on every later
 * import() of the process, ~30 MB, and 0.15-0.25 s more to /healthz (a first start took 870-970 ms, now 730; 2-core
 * machine, tests/bench/README.md, sixteenth delivery).
 */
export function migrationEntries(dir = MIGRATIONS) {
  return Object.fromEntries(fs.readdirSync(dir).filter((f) => /^\d+_.+\.ts$/.test(f)).sort()
    .map((f) => [`migrations/${f.replace(/\.ts$/, '')}`, path.join(dir, f)]));
}

/**
 * Packages left outside the bundle, loaded from node_modules at run time: native addons (better-sqlite3, pg's
 * optional pg-native), knex's drivers for databases Mesa does not use (not installed), packages Mesa loads by name
 * on first need (mjml, date-holidays, mailauth's DKIM header parser: see their createRequire calls), the TypeScript
 * loader and esbuild themselves, and pino, whose worker-thread transports find their files next to the package.
 */
const EXTERNAL = [
  'better-sqlite3', 'pg', 'pg-native', 'pg-query-stream', 'sqlite3', '@vscode/sqlite3', 'mysql', 'mysql2', 'mariadb', 'mariadb/*',
  'oracledb', 'tedious', 'mjml', 'mjml/*', 'date-holidays', 'mailauth', 'mailauth/*', 'tsx', 'tsx/*', 'esbuild', 'pino',
  'thread-stream',
];

/** Registers tsx's loader (once): the fallback path, and a migration the bundle does not hold (src/db/migrate.ts). */
let tsx;
export const loadTypeScript = () => (tsx ??= import('tsx/esm/api').then((m) => m.register()));
globalThis[Symbol.for('mesa.loadTypeScript')] = loadTypeScript;

/**
 * Runs `file` of a bundle built by cachedBundle. The bundle's parse thread runs that bundle's own parse-worker.mjs
 * (src/inbound/parse-thread.ts finds it through the global), and stack traces name src/ files and lines.
 */
export async function runBundle(dir, file) {
  globalThis[Symbol.for('mesa.bundleDir')] = dir;
  process.setSourceMapsEnabled(true);
  await import(pathToFileURL(path.join(dir, file)).href);
}

/**
 * The directory of the bundle of `entryPoints` ({ name: absolute .ts path }), built on first need under
 * node_modules/.cache/<name>/. `sources`: the directories whose files the bundle is made of, hashed with tsconfig.json,
 * package.json and the lockfile (a changed lockfile is other package versions, hence a new bundle).
 */
export async function cachedBundle({ name = 'mesa', entryPoints = { ...MESA_ENTRIES, ...migrationEntries() }, sources = [SRC, MIGRATIONS] } = {}) {
  const files = sources.flatMap((dir) => listSources(dir)).sort();
  const hash = crypto.createHash('sha256');
  const lockfile = path.join(ROOT, 'package-lock.json');
  for (const f of [...files, path.join(ROOT, 'tsconfig.json'), path.join(ROOT, 'package.json'), ...(fs.existsSync(lockfile) ? [lockfile] : [])]) {
    hash.update(path.relative(ROOT, f)).update('\0');
    hash.update(fs.readFileSync(f)).update('\0');
  }
  for (const [entry, file] of Object.entries(entryPoints).sort()) hash.update(`${entry}=${path.relative(ROOT, file)}\0`);
  const dir = path.join(ROOT, 'node_modules', '.cache', name);
  const out = path.join(dir, hash.digest('hex').slice(0, 20));
  const built = () => Object.keys(entryPoints).every((entry) => fs.existsSync(path.join(out, `${entry}.mjs`)));
  if (!built()) {
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
        entryPoints, outdir: tmp, outExtension: { '.js': '.mjs' },
        // Splitting keeps each `await import()` of src/ a chunk of its own, so a command loads only what it uses
        // (in one file, every package any command imports would load on every run).
        bundle: true, splitting: true, platform: 'node', format: 'esm', target: 'node20', external: EXTERNAL,
        // CommonJS packages inside an ES module bundle still `require()` Node's modules and the EXTERNAL packages.
        banner: { js: "import { createRequire as __mesaRequire } from 'node:module'; const require = __mesaRequire(import.meta.url);" },
        // Less to parse at start-up; names are kept, and stack traces name src/ files and lines (source maps), as
        // they did under tsx.
        minifyWhitespace: true, minifySyntax: true, sourcemap: 'linked', sourcesContent: false, logLevel: 'silent',
        plugins: [keepModuleUrls()],
      });
      fs.renameSync(tmp, out);
    } catch (err) {
      fs.rmSync(tmp, { recursive: true, force: true });
      if (!built()) throw err; // else another process finished the same bundle first
    }
  }
  return out;
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
