import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { saveArticle, upsertSearchDoc } from '../../../src/db/repos/search.ts';
import { onStatements } from '../../../src/db/storage.ts';
import { inUnitOfWork } from '../../../src/db/unit-of-work.ts';
import { expectQuestions } from '../../../src/services/suggestions-ahead.ts';
import { indexText, queryTerms } from '../../../src/tickets/search-text.ts';
import { testApp } from '../../support/app.ts';
import { imapSource, parsedAhead } from '../../support/ingest-batches.ts';
import { mail } from '../../support/mail.ts';
import { insertSolvedCase, solvedCaseThemes } from '../../support/solved-cases.ts';

/**
 * The suggestions of a batch's new cases are searched together (src/services/suggestions-ahead.ts): the first new
 * case that needs its own reads those of the mails parsed ahead of their turn in the same statement, and the later
 * ones answer from memory. Each confirmation (the articles) and each consultants' notice (the solved cases) must
 * carry what it carries when its mail comes alone; a case closed in the batch must be seen by the later ones.
 */
const themes = solvedCaseThemes().slice(0, 8);
const apps: App[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});

/** Solved cases of a few themes, every other one also published. */
async function seeded(): Promise<App> {
  const app = await testApp();
  apps.push(app);
  const now = Date.now();
  await app.db.transaction(async (trx) => {
    let n = 0;
    for (const th of themes)
      for (const [subject, answer] of th.cases) {
        const product = th.product ?? undefined;
        const t = await insertSolvedCase(trx, subject, { product, now });
        const stemmed = indexText(`${subject}\n${subject}\n${answer}`);
        await upsertSearchDoc(trx, { ticketId: t.id, kind: 'case', product, stemmed });
        if (n++ % 2) continue;
        const article = { ticketId: t.id, number: t.number, title: subject, body: answer, product };
        await saveArticle(trx, { ...article, publishedBy: 'ana@mesa.test', publishedAt: now });
        await upsertSearchDoc(trx, { ticketId: t.id, kind: 'article', product, stemmed });
      }
  });
  return app;
}

/** A new case's question per theme, from a customer of its own; the last asks what the first asked. */
const raws = [...themes.map((th) => th.queries), themes[0].queries].map((q, i) =>
  mail(
    {
      From: `Cliente ${i} <cliente${i}@empresa${i}.co>`,
      To: 'soporte@mesa.test',
      Subject: q[0],
      'Message-ID': `<pregunta-${i}@empresa${i}.co>`,
    },
    q[1] ?? q[0],
  ),
);

/** By case number: the articles' titles of its confirmation, the solved cases' numbers of its consultants' notice. */
async function suggestionsOf(app: App): Promise<Map<number, { articles: string[]; cases: number[] }>> {
  const out = new Map<number, { articles: string[]; cases: number[] }>();
  const rows = await app
    .db('outbox')
    .join('tickets', 'tickets.id', 'outbox.ticket_id')
    .whereIn('outbox.kind', ['confirmation', 'consultant_new_case'])
    .where('outbox.recipient', 'in', ['ana@mesa.test', ...raws.map((_, i) => `cliente${i}@empresa${i}.co`)])
    .select('tickets.number', 'outbox.kind', 'outbox.mail_json');
  for (const r of rows) {
    const data = JSON.parse(r.mail_json).render.data;
    const entry = out.get(Number(r.number)) ?? { articles: [], cases: [] };
    if (r.kind === 'confirmation') entry.articles = data.suggestions.map((s: { title: string }) => s.title);
    else entry.cases = data.similar.map((s: { number: number }) => s.number);
    out.set(Number(r.number), entry);
  }
  return out;
}

/** How many searches of the index `app` runs while `fn` does. */
async function searchesDuring(app: App, fn: () => Promise<unknown>): Promise<number> {
  let n = 0;
  const stop = onStatements(app.db, ({ sql }) => {
    if (/search_docs|search_fts/.test(sql) && /^\s*select/i.test(sql)) n++;
  });
  try {
    await fn();
  } finally {
    stop();
  }
  return n;
}

describe("a batch's suggestions, searched together", () => {
  it('gives each new case of a batch the suggestions it gets alone, in one search for the batch', async () => {
    const alone = await seeded();
    const searchesAlone = await searchesDuring(alone, async () => {
      for (const [i, raw] of raws.entries())
        expect(await alone.ingest.ingest(raw, imapSource(i + 1))).toMatchObject({ effect: 'new_case' });
    });
    expect(searchesAlone).toBe(raws.length);

    const together = await seeded();
    // Every mail parsed before the batch's turn, as when the parse thread is ahead (the poller's parseAhead).
    await parsedAhead(together, raws);
    const searches = await searchesDuring(together, async () => {
      const results = await together.ingest.ingestMany(raws.map((raw, i) => ({ raw, source: imapSource(i + 1) })));
      expect(results.map((r) => r.effect)).toEqual(raws.map(() => 'new_case'));
    });
    expect(searches).toBe(1);

    const expected = await suggestionsOf(alone);
    expect(expected.size).toBe(raws.length);
    // Not a comparison of empty answers: most cases get articles, every one solved cases.
    const withArticles = [...expected.values()].filter((s) => s.articles.length > 0).length;
    expect(withArticles).toBeGreaterThan(raws.length / 2);
    expect([...expected.values()].every((s) => s.cases.length === 3)).toBe(true);
    expect(await suggestionsOf(together)).toEqual(expected);
  });

  it('searches again for the later new cases once the batch changed the index (a case closed, an article published)', async () => {
    const app = await seeded();
    const knowledge = app.knowledge;
    const first = queryTerms(themes[0].queries[0]);
    const later = queryTerms(themes[1].queries[0]);
    await inUnitOfWork(app.db, async (uow) => {
      expectQuestions(uow, [later]);
      const searches = await searchesDuring(app, async () => {
        await knowledge.suggestionsFor(uow, first, 3);
        // Read ahead with the first: no statement of its own.
        const before = await knowledge.suggestionsFor(uow, later, 3);
        expect(before.cases.length).toBe(3);
      });
      expect(searches).toBe(1);
      // A case of the later question's theme closes in the batch, with a text that only it has.
      const [subject] = themes[1].cases[0];
      const closed = await insertSolvedCase(uow, `${subject} ${subject}`);
      await knowledge.indexSolvedCase(uow, closed);
      const after = await searchesDuring(app, async () => {
        const found = await knowledge.suggestionsFor(uow, later, 3);
        expect(found.cases.map((t) => t.id)).toContain(closed.id);
      });
      expect(after).toBe(1);
    });
  });
});
