import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { onStatements } from '../../../src/db/storage.ts';
import { testApp } from '../../support/app.ts';
import { rawMail } from '../../integration/outbound/fixtures.ts';

/**
 * What a new case's suggestions cost (tests/integration/outbound/knowledge.test.ts has what they say;
 * tests/integration/db/search-together.test.ts, that they are those of separate searches): the published articles
 * for the confirmation and the solved cases for the consultants, looked for in one statement.
 */
let app: App;
beforeEach(async () => {
  app = await testApp();
});
afterEach(async () => {
  await app.close();
});

describe('suggestions of a new case: statements', () => {
  it('searches the articles and the solved cases in one statement', async () => {
    const searches: string[] = [];
    const stopListening = onStatements(app.db, (q: { sql: string }) => {
      if (/search_docs/.test(q.sql)) searches.push(q.sql);
    });
    const r = await app.ingest.ingest(
      rawMail({ from: 'carla@empresa.com', subject: 'Factura rechazada', body: 'La DIAN rechaza la factura.' }),
      { kind: 'file', path: 'a.eml' },
    );
    stopListening();
    expect(r).toMatchObject({ effect: 'new_case' });
    expect(searches).toHaveLength(1);
    const kinds =
      app.config.database.client === 'pg' ? [`= 'article'`, `= 'case'`] : ['search_fts_articles', 'search_fts_cases'];
    for (const k of kinds) expect(searches[0]).toContain(k);
  });
});
