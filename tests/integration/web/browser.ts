import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { LiveWorld } from '../../support/worlds.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Debian's Chromium, headless, with nothing of its own reaching the network. */
export async function launchChromium(): Promise<Browser> {
  // Said as the test Dovecot says it (tests/support/dovecot.ts): what is missing and how to get it.
  if (!fs.existsSync(CHROMIUM))
    throw new Error(`no está Chromium (${CHROMIUM}): instálalo con \`apt-get install chromium\` (lo hace .ci/run)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-dev-shm-usage',
    ],
  });
}

/**
 * The frame of a browser test file: one Chromium for the whole file, and the world each test opens (`keep` hands it
 * over and returns it) closed after that test, passed or failed.
 */
export function chromiumForFile(): { browser: () => Browser; keep: (world: LiveWorld) => LiveWorld } {
  let browser: Browser | undefined;
  let kept: LiveWorld | undefined;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    await kept?.close();
    kept = undefined;
  });
  return { browser: () => browser!, keep: (world) => (kept = world) };
}

export const ARTIFACTS = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../.artifacts');

export function artifactPath(name: string): string {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, name);
}

const AXE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core's serious and critical findings on `page` (the test context bypasses the page's CSP to inject it). */
export async function seriousFindings(page: Page): Promise<string[]> {
  await page.evaluate(AXE);
  const result = await page.evaluate(() => (globalThis as any).axe.run(document, { resultTypes: ['violations'] }));
  return (result.violations as Array<{ id: string; impact: string; nodes: unknown[] }>)
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.nodes.length})`);
}
