import type { Db } from '../db/knex.ts';
import type { Queryable } from '../db/sql.ts';
import {
  articlesByTicketIds,
  caseTextForIndex,
  saveArticle,
  searchDocsEach,
  upsertSearchDoc,
  type ArticleRow,
  type SearchKind,
} from '../db/repos/search.ts';
import { findTicketById, insertEvent } from '../db/repos/tickets.ts';
import { forgetSuggestionsAhead, searchedAhead } from './suggestions-ahead.ts';
import { withoutPersonalData } from '../tickets/personal-data.ts';
import { indexText, queryTerms } from '../tickets/search-text.ts';
import type { Ticket } from '../tickets/types.ts';
import { cutText } from '../text-cut.ts';

/** What similar() looks for: `minTerms` of the question's terms at least in each document found (see there). */
export type SimilarParams = {
  kind: SearchKind;
  limit: number;
  product?: string;
  exceptTicketId?: number;
  minTerms?: number;
};

/**
 * The knowledge base: solved cases indexed for the consultants ("similar solved cases"), and articles a consultant
 * published from them for the customers. An article is the consultant's own text, or the subject and support's last
 * answer with the requester's personal data taken out; never a note, never an attachment.
 */
export class KnowledgeService {
  constructor(private readonly deps: { db: Db }) {}

  /** A case just closed: its question and answer go into the consultants' index. */
  async indexSolvedCase(trx: Queryable, t: Ticket): Promise<void> {
    const { question, answer } = await caseTextForIndex(trx, t.id);
    // The subject twice: it is the customer's own summary of the problem.
    await upsertSearchDoc(trx, {
      ticketId: t.id,
      kind: 'case',
      product: t.product,
      stemmed: indexText(`${t.subject}\n${t.subject}\n${cutText(question, 4000)}\n${cutText(answer, 4000)}`),
    });
    forgetSuggestionsAhead(trx);
  }

  async publish(
    trx: Queryable,
    t: Ticket,
    p: { title?: string; text?: string; actor: string; now: number },
  ): Promise<ArticleRow> {
    const { answer } = await caseTextForIndex(trx, t.id);
    const title = cutText(p.title?.trim() || withoutPersonalData(t.subject, t), 300) || `Caso #${t.number}`;
    const body = cutText(p.text?.trim() || withoutPersonalData(answer, t), 20_000);
    const article = {
      ticketId: t.id,
      number: t.number,
      title,
      body,
      product: t.product,
      productModule: t.productModule,
      publishedBy: p.actor,
      publishedAt: p.now,
    };
    await saveArticle(trx, article);
    await upsertSearchDoc(trx, {
      ticketId: t.id,
      kind: 'article',
      product: t.product,
      stemmed: indexText(`${title}\n${title}\n${body}`),
    });
    forgetSuggestionsAhead(trx);
    await insertEvent(trx, {
      ticketId: t.id,
      type: 'published',
      actor: p.actor,
      reason: cutText(title, 200),
      at: p.now,
    });
    return { ...article, id: 0 };
  }

  /**
   * The cases (or articles) whose text is closest to `text`, best first. The engines match any term and rank;
   * `minTerms` asks that many of the question's terms to be in a document (fewer for a shorter question): what is
   * offered unasked to a customer should share more than one word ("vencida" in "licencia vencida").
   */
  similar(db: Queryable, text: string, p: SimilarParams): Promise<number[]> {
    return this.similarTo(db, queryTerms(text), p);
  }

  /** As similar(), for a question already stemmed (queryTerms). */
  async similarTo(db: Queryable, terms: readonly string[], p: SimilarParams): Promise<number[]> {
    return (await this.similarEach(db, terms, [p]))[0];
  }

  /**
   * As similarTo(), for several searches of one question, in one statement (searchDocsEach). `ahead`: the searches'
   * shape when a batch may have read them ahead for its new cases (suggestions-ahead.ts), the same for every question.
   */
  private async similarEach(
    db: Queryable,
    terms: readonly string[],
    ps: readonly SimilarParams[],
    ahead?: string,
  ): Promise<number[][]> {
    const needed = ps.map((p) => Math.min(p.minTerms ?? 1, terms.length));
    // Every document the engine matched has at least one of the terms: only a stricter minimum reads their text
    // and asks for more candidates than it keeps.
    const limits = ps.map((p, i) => (needed[i] > 1 ? p.limit * 4 : p.limit));
    // Read ahead for any case (the batch's new cases have no id yet): one candidate more than kept, this case's left
    // out here, are the candidates a search without it gives; the text whenever a question might need it, so that
    // every question asks the same.
    const early =
      ahead === undefined
        ? undefined
        : await searchedAhead(db, ahead, terms, (t) =>
            ps.map((p) => {
              const strict = (p.minTerms ?? 1) > 1;
              return {
                kind: p.kind,
                terms: t,
                product: p.product,
                limit: (strict ? 4 : 1) * p.limit + 1,
                withText: strict,
              };
            }),
          );
    const found =
      early?.map((hits, i) => hits.filter((r) => r.ticketId !== ps[i].exceptTicketId).slice(0, limits[i])) ??
      (await searchDocsEach(
        db,
        ps.map((p, i) => ({
          kind: p.kind,
          terms,
          product: p.product,
          limit: limits[i],
          exceptTicketId: p.exceptTicketId,
          withText: needed[i] > 1,
        })),
      ));
    return found.map((hits, i) => {
      if (needed[i] <= 1) return hits.map((r) => r.ticketId);
      return hits
        .filter((r) => {
          const words = r.stemmed.split(' ');
          return terms.filter((t) => words.some((w) => w.startsWith(t))).length >= needed[i];
        })
        .slice(0, ps[i].limit)
        .map((r) => r.ticketId);
    });
  }

  /**
   * What a new case's first mails suggest, both looked for in one statement: published articles for the requester
   * (sharing two of the question's terms, see similar()), solved cases for the consultants; `limit` of each.
   */
  async suggestionsFor(
    db: Queryable,
    terms: readonly string[],
    limit: number,
    exceptTicketId?: number,
  ): Promise<{ articles: ArticleRow[]; cases: Ticket[] }> {
    const [articleIds, caseIds] = await this.similarEach(
      db,
      terms,
      [
        { kind: 'article', limit, exceptTicketId, minTerms: 2 },
        { kind: 'case', limit, exceptTicketId },
      ],
      `suggestions ${limit}`,
    );
    const rows = new Map((await articlesByTicketIds(db, articleIds)).map((a) => [a.ticketId, a]));
    const articles = articleIds.map((id) => rows.get(id)).filter((a): a is ArticleRow => Boolean(a));
    const cases: Ticket[] = [];
    for (const id of caseIds) {
      const t = await findTicketById(db, id);
      if (t) cases.push(t);
    }
    return { articles, cases };
  }
}
