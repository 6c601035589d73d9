import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where Mesa finds its own files, in one place. This file sits one level below the root of the code that runs
 * (src/paths.ts), and the build keeps that shape: dist/ mirrors the repository (dist/src/ holds every built module of
 * src/, dist/migrations/ the built migrations, and the build copies templates/ and the data files of src/ beside
 * them; see scripts/build.mjs). So one relative path finds each file both under tsx or vitest (the sources) and in
 * the build, and the extension of this very file says which kind of module to load (.ts or .js).
 */
const ROOT = new URL('../', import.meta.url);
const at = (relative: string) => fileURLToPath(new URL(relative, ROOT));

/** `.ts` when running the sources, `.js` when running the build. */
export const MODULE_EXT = path.extname(fileURLToPath(import.meta.url));

/** The database migrations, one module each, recorded by knex under their file name without extension. */
export const MIGRATIONS_DIR = at('migrations');

/** The body of the parse thread (src/inbound/parse-thread.ts). */
export const PARSE_WORKER_URL = new URL(`src/inbound/parse-worker${MODULE_EXT}`, ROOT);

/** The body of the compose thread (src/outbound/compose-thread.ts). */
export const COMPOSE_WORKER_URL = new URL(`src/outbound/compose-worker${MODULE_EXT}`, ROOT);

/** The mail templates (MJML, text, strings). */
export const TEMPLATES_DIR = at('templates');

/** The status page's style sheet. */
export const STATUS_PAGE_CSS = at('src/web/assets/mesa.css');

/** The sample mails of `mesa demo`. */
export const DEMO_SAMPLES_DIR = at('src/demo/samples');

/**
 * Mesa's version, from its package.json: the nearest one above this file, which is the repository's both for the
 * sources and for the build (dist/ holds no package.json of its own).
 */
export function mesaVersion(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file))
      return String((JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: unknown }).version);
    if (path.dirname(dir) === dir) return 'desconocida';
  }
}
