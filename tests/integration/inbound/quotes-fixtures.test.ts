import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { parseMail } from '../../../src/inbound/parse.ts';
import { classifyBounce } from '../../../src/inbound/filters/bounce.ts';
import { caseDetail } from '../../../src/services/case-view.ts';
import { testApp } from '../../support/app.ts';
import { readOriginal } from '../../../src/storage/originals.ts';

/**
 * Every Spanish fixture (tests/fixtures/es/X.eml, one per client format) through the real ingest path, compared
 * with X.expected.json beside it. Unless the expectation says `"seed": false`, case #1 is opened first from
 * tests/fixtures/seed/caso-1.eml, so that replies tagged [Caso #1] have a case to continue.
 */
const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..', 'fixtures');
const dir = path.join(FIXTURES, 'es');
const names = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.eml') && fs.existsSync(path.join(dir, f.replace(/\.eml$/, '.expected.json'))))
  .sort();

interface Expected {
  outcome: string;
  effect?: string;
  reason?: string;
  ticketNumber?: number;
  visibleText?: string;
  subject?: string;
  requester?: string;
  requesterName?: string;
  stage?: string;
  seed?: boolean;
  attachments?: Array<{ filename: string; contentType: string }>;
  bounce?: { hard?: boolean; addressGone?: boolean; status?: string };
}

let app: App | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

describe('Spanish client fixtures through the ingest path', () => {
  it('has a fixture with an expectation for every client format', () => {
    expect(names.length).toBeGreaterThanOrEqual(28);
  });

  it.each(names)('%s', async (name) => {
    const raw = fs.readFileSync(path.join(dir, name));
    const exp: Expected = JSON.parse(fs.readFileSync(path.join(dir, name.replace(/\.eml$/, '.expected.json')), 'utf8'));
    app = await testApp();
    if (exp.seed !== false) {
      const seed = await app.ingest.ingest(fs.readFileSync(path.join(FIXTURES, 'seed', 'caso-1.eml')), {
        kind: 'stdin',
      });
      expect(seed).toMatchObject({ outcome: 'accepted', effect: 'new_case', ticketNumber: 1 });
    }

    const r = await app.ingest.ingest(raw, { kind: 'stdin' });
    expect({ outcome: r.outcome, effect: r.effect, reason: r.reason, ticketNumber: r.ticketNumber }).toMatchObject(
      Object.fromEntries(
        Object.entries({
          outcome: exp.outcome,
          effect: exp.effect,
          reason: exp.reason,
          ticketNumber: exp.ticketNumber,
        }).filter(([, v]) => v !== undefined),
      ),
    );
    const ledger = await app.db('ingest_ledger').where({ source_key: r.sourceKey });
    expect(ledger).toHaveLength(1);

    if (exp.outcome === 'rejected') {
      expect(await app.db('quarantine').where({ source_key: r.sourceKey, reason: exp.reason }).first()).toBeTruthy();
    }
    if (r.outcome === 'accepted') {
      const detail = (await caseDetail(app.db, r.ticketNumber!, { includeInternal: true }))!;
      const last = detail.messages[detail.messages.length - 1];
      if (exp.visibleText !== undefined) expect(last.bodyText).toBe(exp.visibleText);
      if (exp.effect === 'system_note') expect(last).toMatchObject({ role: 'system', internal: true });
      else expect(last.role).toBe('customer');
      if (exp.subject !== undefined) expect(detail.subject).toBe(exp.subject);
      if (exp.requester !== undefined) expect(detail.requester).toBe(exp.requester);
      if (exp.requesterName !== undefined) expect(detail.requesterName).toBe(exp.requesterName);
      if (exp.stage !== undefined) expect(detail.stage).toBe(exp.stage);
      if (exp.attachments)
        expect(last.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType }))).toEqual(
          exp.attachments,
        );
      // The full original is always kept and viewable.
      expect((await readOriginal(app.db, app.blobs, last.rawSha256!)).equals(raw)).toBe(true);
    }
    if (exp.bounce) expect(classifyBounce(await parseMail(raw))).toMatchObject({ kind: 'bounce', ...exp.bounce });
  });
});
