import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * An MJML layout compiled to HTML, its `{{placeholders}}` left intact for Mustache. mjml is slow to load and to
 * compile, so with a cache directory each compiled layout is kept on disk, keyed by its MJML source and the mjml
 * version: a restarted `mesa start` then never loads mjml at all, and its first mail does not wait for it.
 */
export function compileLayout(dir: string, name: string, cacheDir?: string): string {
  let html: string;
  const file = path.join(dir, `${name}.mjml`);
  const source = fs.readFileSync(file, 'utf8');
  const cached =
    cacheDir &&
    path.join(
      cacheDir,
      `${name}-${crypto.createHash('sha256').update(`${mjmlVersion()}\0${source}`).digest('hex').slice(0, 16)}.html`,
    );
  if (cached && fs.existsSync(cached)) {
    html = fs.readFileSync(cached, 'utf8');
  } else {
    // mjml 4 is CommonJS and synchronous; loaded on first need only.
    const mjml2html = createRequire(import.meta.url)('mjml') as (
      src: string,
      o: object,
    ) => { html: string; errors: Array<{ formattedMessage: string }> };
    const out = mjml2html(source, { filePath: file, validationLevel: 'strict', keepComments: false });
    if (out.errors.length) throw new Error(`MJML ${name}: ${out.errors.map((e) => e.formattedMessage).join('; ')}`);
    html = out.html;
    if (cached) writeCache(cached, html);
  }
  return html;
}

function mjmlVersion(): string {
  return (createRequire(import.meta.url)('mjml/package.json') as { version: string }).version;
}

/** Best effort: a cache that cannot be written (read-only DATA_DIR) only costs the compile next time. */
function writeCache(file: string, html: string): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, html);
    fs.renameSync(tmp, file);
  } catch {
    // ignored on purpose
  }
}
