import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import {
  saveArticle,
  searchDocs,
  searchDocsEach,
  upsertSearchDoc,
  type SearchQuery,
} from '../../../src/db/repos/search.ts';
import { KnowledgeService } from '../../../src/services/knowledge.ts';
import { indexText, queryTerms } from '../../../src/tickets/search-text.ts';
import { testApp } from '../../support/app.ts';
import { insertSolvedCase, solvedCaseThemes } from '../../support/solved-cases.ts';

/**
 * A new case asks for articles (for its requester) and solved cases (for the consultants) in one statement
 * (searchDocsEach, KnowledgeService.suggestionsFor): each kind must get exactly what its own search gets, the same
 * documents in the same order with the same scores, on the real engine. Over the solved cases written for the
 * search tests, every third also published, some twice with the same text (ties, cut by the limit).
 */
const themes = solvedCaseThemes();

let app: App;
const products = new Set<string>();
const knowledge = () => new KnowledgeService({ db: app.db });

beforeAll(async () => {
  app = await testApp();
  const now = Date.now();
  await app.db.transaction(async (trx) => {
    let n = 0;
    for (const th of themes) {
      if (th.product) products.add(th.product);
      for (const [subject, answer] of th.cases) {
        // Every fifth case twice: two documents of the same text rank the same, and only the ticket orders them.
        for (let copy = 0; copy < (n % 5 === 0 ? 2 : 1); copy++) {
          const t = await insertSolvedCase(trx, subject, { product: th.product ?? undefined, now });
          const stemmed = indexText(`${subject}\n${subject}\n${answer}`);
          await upsertSearchDoc(trx, { ticketId: t.id, kind: 'case', product: th.product ?? undefined, stemmed });
          if (n % 3 !== 0) continue;
          await saveArticle(trx, {
            ticketId: t.id,
            number: t.number,
            title: subject,
            body: answer,
            product: th.product ?? undefined,
            publishedBy: 'ana@mesa.test',
            publishedAt: now,
          });
          await upsertSearchDoc(trx, {
            ticketId: t.id,
            kind: 'article',
            product: th.product ?? undefined,
            stemmed: indexText(`${subject}\n${subject}\n${answer}`),
          });
        }
        n++;
      }
    }
  });
}, 120_000);

afterAll(async () => {
  await app?.close();
});

const questions = () => themes.flatMap((th) => th.queries.map((q) => ({ q, product: th.product ?? undefined })));

describe('articles and solved cases searched together', () => {
  it('gives each kind what its own search gives: same documents, order and scores', async () => {
    let found = 0;
    let cut = 0;
    let tied = 0;
    for (const { q, product } of questions()) {
      const terms = queryTerms(q);
      const variants: Array<[SearchQuery, SearchQuery]> = [
        [
          { kind: 'article', terms, limit: 12, withText: true },
          { kind: 'case', terms, limit: 3, withText: false },
        ],
        [
          { kind: 'case', terms, limit: 5, product, exceptTicketId: 7 },
          { kind: 'article', terms, limit: 2, product, withText: false },
        ],
      ];
      for (const pair of variants) {
        const alone = [await searchDocs(app.db, pair[0]), await searchDocs(app.db, pair[1])];
        expect(await searchDocsEach(app.db, pair), q).toEqual(alone);
        found += alone[0].length + alone[1].length;
        const all = await searchDocs(app.db, { ...pair[1], limit: 500 });
        if (all.length > pair[1].limit) cut++;
        if (alone[1].some((h, i) => i > 0 && h.score === alone[1][i - 1].score)) tied++;
      }
    }
    // Not a comparison of empty answers: most questions find both kinds, beyond the limit, with ties.
    expect(found).toBeGreaterThan(questions().length * 4);
    expect(cut).toBeGreaterThan(10);
    expect(tied).toBeGreaterThan(5);
  });

  it('answers a search with no usable term with nothing, and the other as alone', async () => {
    const article: SearchQuery = { kind: 'article', terms: ['!!!', 'a-b', '"x"*'], limit: 3 };
    const cases: SearchQuery = { kind: 'case', terms: queryTerms('factura electronica rechazada'), limit: 3 };
    const both = await searchDocsEach(app.db, [article, cases]);
    expect(both[0]).toEqual([]);
    expect(both[1]).toEqual(await searchDocs(app.db, cases));
    expect(both[1].length).toBe(3);
    expect(await searchDocsEach(app.db, [article, { ...cases, terms: [] }])).toEqual([[], []]);
  });

  it("suggests the articles and cases similarTo finds for each kind, in its order, for a new case's question", async () => {
    expect(products.size).toBeGreaterThan(1);
    let articles = 0;
    for (const { q } of questions()) {
      const terms = queryTerms(q);
      const got = await knowledge().suggestionsFor(app.db, terms, 3, 11);
      const articleIds = await knowledge().similarTo(app.db, terms, {
        kind: 'article',
        limit: 3,
        exceptTicketId: 11,
        minTerms: 2,
      });
      const caseIds = await knowledge().similarTo(app.db, terms, { kind: 'case', limit: 3, exceptTicketId: 11 });
      expect(
        got.articles.map((a) => a.ticketId),
        q,
      ).toEqual(articleIds);
      expect(
        got.cases.map((t) => t.id),
        q,
      ).toEqual(caseIds);
      articles += articleIds.length;
    }
    expect(articles).toBeGreaterThan(questions().length);
  });
});
