import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TemplateRenderer } from '../../../src/outbound/templates.ts';

// npm run bench: the first mail after `mesa start` waited ~1 s for mjml to load and compile. Compiled layouts are
// now kept under DATA_DIR/cache/templates and read back by the next process.
describe('compiled template cache', () => {
  it('writes each compiled layout once and reads it back in a new renderer instead of compiling again', () => {
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-tpl-'));
    const first = new TemplateRenderer(undefined, cacheDir).compiled('confirmation');
    const files = fs.readdirSync(cacheDir).filter((f) => f.startsWith('confirmation-') && f.endsWith('.html'));
    expect(files).toHaveLength(1);
    expect(fs.readFileSync(path.join(cacheDir, files[0]), 'utf8')).toBe(first);
    // Mark the cached copy: a second renderer must serve it as is (it did not run mjml again).
    fs.writeFileSync(path.join(cacheDir, files[0]), `${first}<!-- cache -->`);
    const second = new TemplateRenderer(undefined, cacheDir);
    expect(second.compiled('confirmation')).toBe(`${first}<!-- cache -->`);
    expect(second.compileMs).toBeLessThan(200);
  });
});
