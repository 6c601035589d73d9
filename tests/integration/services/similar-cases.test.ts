import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { insertMessage } from '../../../src/db/repos/tickets.ts';
import { KnowledgeService } from '../../../src/services/knowledge.ts';
import { testApp } from '../../support/app.ts';
import { insertSolvedCase, solvedCaseThemes } from '../../support/solved-cases.ts';

/**
 * The similar-case search on the real engine (SQLite FTS5 or PostgreSQL), over 200 solved cases written for the
 * tests: for each query, the cases of its theme should come first. Reports recall@3 and MRR.
 */
const themes = solvedCaseThemes();

let app: App;
const themeOf = new Map<number, string>();
const knowledge = () => new KnowledgeService({ db: app.db });

beforeAll(async () => {
  app = await testApp();
  const now = Date.now();
  await app.db.transaction(async (trx) => {
    for (const th of themes) {
      for (const [subject, answer] of th.cases) {
        const t = await insertSolvedCase(trx, subject, { product: th.product ?? undefined, now });
        await insertMessage(trx, {
          ticketId: t.id,
          role: 'customer',
          source: 'mail',
          fromAddress: 'cliente@empresa.com',
          bodyText: subject,
          internal: false,
          verified: true,
          createdAt: now,
          attachments: [],
        } as any);
        await insertMessage(trx, {
          ticketId: t.id,
          role: 'consultant',
          source: 'mail',
          fromAddress: 'ana@mesa.test',
          bodyText: answer,
          internal: false,
          verified: true,
          createdAt: now + 1,
          attachments: [],
        } as any);
        await knowledge().indexSolvedCase(trx, t);
        themeOf.set(t.id, th.key);
      }
    }
  });
}, 120_000);

afterAll(async () => {
  await app?.close();
});

describe('similar solved cases', () => {
  it('finds the cases of the same problem first: recall@3 ≥ 0.8', async () => {
    expect(themeOf.size).toBeGreaterThanOrEqual(200);
    let recall = 0;
    let rr = 0;
    let queries = 0;
    const misses: string[] = [];
    for (const th of themes) {
      const relevant = th.cases.length;
      for (const q of th.queries) {
        const ids = await knowledge().similar(app.db, q, { kind: 'case', limit: 10 });
        const hits = ids.slice(0, 3).filter((id) => themeOf.get(id) === th.key).length;
        recall += hits / Math.min(3, relevant);
        const first = ids.findIndex((id) => themeOf.get(id) === th.key);
        rr += first < 0 ? 0 : 1 / (first + 1);
        if (hits < 3)
          misses.push(
            `«${q}»: ${hits}/3 (${ids
              .slice(0, 3)
              .map((id) => themeOf.get(id))
              .join(', ')})`,
          );
        queries++;
      }
    }
    const engine = app.config.database.client === 'pg' ? 'PostgreSQL' : 'SQLite FTS5';
    console.log(
      `${engine}: ${queries} consultas, recall@3 = ${(recall / queries).toFixed(3)}, MRR = ${(rr / queries).toFixed(3)}\n  ${misses.join('\n  ')}`,
    );
    expect(recall / queries).toBeGreaterThanOrEqual(0.8);
  });

  it('meets accents and plurals: "facturas electronicas" finds "Factura electrónica …"', async () => {
    const ids = await knowledge().similar(app.db, 'facturas electronicas rechazadas', { kind: 'case', limit: 3 });
    expect(ids.map((id) => themeOf.get(id))).toContain('fe-rechazo-dian');
  });

  it('answers nothing, not an error, to a query of only empty words or symbols', async () => {
    expect(await knowledge().similar(app.db, 'de la por favor urgente !!! "*" OR', { kind: 'case', limit: 3 })).toEqual(
      [],
    );
    expect(await knowledge().similar(app.db, "'; drop table tickets; --", { kind: 'case', limit: 3 })).toBeInstanceOf(
      Array,
    );
  });
});
