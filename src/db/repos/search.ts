import { knexOf, row, rows as sqlRows, type Queryable } from '../sql.ts';
import { isPostgres } from '../knex.ts';

/**
 * The full-text index of solved cases and published articles. The text arrives stemmed (one engine-neutral form,
 * src/tickets/search-text.ts); each engine ranks with its own function: FTS5's bm25 on SQLite, ts_rank over a GIN
 * index on PostgreSQL. Terms are prefixes ("factur" also finds "facturar"'s stem family). Each kind has its own
 * index (an FTS5 table, a partial GIN index): a search for articles never ranks the many solved cases.
 */
export type SearchKind = 'article' | 'case';

/** The SQLite FTS5 table of each kind (migrations/20261205000900_search_by_kind.ts). */
const FTS_TABLE: Record<SearchKind, string> = { article: 'search_fts_articles', case: 'search_fts_cases' };
/** The kind as SQL text: a literal, so that PostgreSQL's planner can pick that kind's partial index. */
const KIND_LITERAL: Record<SearchKind, string> = { article: "'article'", case: "'case'" };

export interface SearchDoc {
  ticketId: number;
  kind: SearchKind;
  product?: string;
  stemmed: string;
}

export async function upsertSearchDoc(queryable: Queryable, d: SearchDoc): Promise<void> {
  const db = knexOf(queryable);
  const existing = await db('search_docs').where({ ticket_id: d.ticketId, kind: d.kind }).first('id');
  let id: number;
  if (existing) {
    id = Number(existing.id);
    await db('search_docs')
      .where({ id })
      .update({ product: d.product ?? null, stemmed: d.stemmed });
  } else {
    const [row] = await db('search_docs')
      .insert({ ticket_id: d.ticketId, kind: d.kind, product: d.product ?? null, stemmed: d.stemmed })
      .returning('id');
    id = Number(typeof row === 'object' ? row.id : row);
  }
  if (!isPostgres(db)) {
    const fts = FTS_TABLE[d.kind];
    await db.raw(`delete from "${fts}" where rowid = ?`, [id]);
    await db.raw(`insert into "${fts}" (rowid, "stemmed") values (?, ?)`, [id, d.stemmed]);
  }
}

/** One search: `kind`'s documents matching any of `terms`, best first. */
export interface SearchQuery {
  kind: SearchKind;
  terms: readonly string[];
  product?: string;
  limit: number;
  exceptTicketId?: number;
  withText?: boolean;
}
export type SearchHit = { ticketId: number; score: number; stemmed: string };
/** A row as the driver gives it: numbers may come as text (PostgreSQL's bigint), no stemmed text when not asked. */
type HitRow = { ticket_id: number | string; score: number | string; stemmed?: string | null };

/**
 * Terms must be plain stems ([a-z0-9]): they are written into the engine's query syntax. `withText: false` leaves
 * each document's stemmed text out (stemmed = ''): carrying it through the sort of every match costs more than the
 * match itself when a caller only wants the ids.
 */
export async function searchDocs(queryable: Queryable, p: SearchQuery): Promise<SearchHit[]> {
  return (await searchDocsEach(queryable, [p]))[0];
}

/**
 * Several searches in one statement (a new case looks for articles for its requester and solved cases for the
 * consultants at once): each search its own ranked, limited SELECT, as searchDocs alone would run it, joined by UNION
 * ALL and told apart by a "part" column; the answers, in the order of `queries`, are those of separate searches.
 */
export async function searchDocsEach(queryable: Queryable, queries: readonly SearchQuery[]): Promise<SearchHit[][]> {
  const out: SearchHit[][] = queries.map(() => []);
  const parts: Array<{ index: number; sql: string; values: Array<string | number> }> = [];
  queries.forEach((q, index) => {
    const part = rankedSelect(queryable, q, queries.length > 1);
    if (part) parts.push({ index, ...part });
  });
  if (!parts.length) return out;
  const hit = (r: HitRow): SearchHit => ({
    ticketId: Number(r.ticket_id),
    score: Number(r.score),
    stemmed: String(r.stemmed ?? ''),
  });
  if (parts.length === 1) {
    out[parts[0].index] = (await sqlRows<HitRow>(queryable, parts[0].sql, parts[0].values)).map(hit);
    return out;
  }
  // Each part keeps its own ORDER BY and LIMIT inside its subquery; the outer ORDER BY repeats the parts' order (rank,
  // then ticket), which a UNION ALL alone does not promise to keep.
  const sql = parts
    .map((p) => `select ${p.index} as "part", "s${p.index}".* from (${p.sql}) as "s${p.index}"`)
    .join(' union all ');
  const rows = await sqlRows<HitRow & { part: number | string }>(
    queryable,
    `${sql} order by "part", "score" desc, "ticket_id" desc`,
    parts.flatMap((p) => p.values),
  );
  for (const r of rows) out[Number(r.part)].push(hit(r));
  return out;
}

const isTerm = (t: string) => /^[a-z0-9]+$/.test(t);

/** Whether a search for `terms` asks the engine anything (a plain stem among them): else it finds nothing, unread. */
export const searchable = (terms: readonly string[]): boolean => terms.some(isTerm);

/** The SELECT of one search, or none when no term is left. `together`: always a "stemmed" column (maybe ''), so
 * that the parts of a UNION ALL have the same columns. */
function rankedSelect(
  queryable: Queryable,
  p: SearchQuery,
  together: boolean,
): { sql: string; values: Array<string | number> } | undefined {
  const terms = p.terms.filter(isTerm);
  if (!terms.length) return undefined;
  const filters: string[] = [`"d"."kind" = ${KIND_LITERAL[p.kind]}`];
  const values: Array<string | number> = [];
  if (p.product !== undefined) {
    filters.push('"d"."product" = ?');
    values.push(p.product);
  }
  if (p.exceptTicketId !== undefined) {
    filters.push('"d"."ticket_id" <> ?');
    values.push(p.exceptTicketId);
  }
  // Written into the SQL, not bound: SQLite prepares a statement with a bound LIMIT again at every run, and the
  // callers use a handful of fixed limits.
  const limit = Math.max(1, Math.min(500, Math.floor(p.limit)));
  const text = p.withText !== false ? '"d"."stemmed", ' : together ? `'' as "stemmed", ` : '';
  if (isPostgres(queryable)) {
    const query = terms.map((t) => `${t}:*`).join(' | ');
    return {
      sql:
        `select "d"."ticket_id", ${text}ts_rank("d"."tsv", "q") as "score" ` +
        `from "search_docs" as "d", to_tsquery('simple', ?) as "q" ` +
        `where "d"."tsv" @@ "q" and ${filters.join(' and ')} ` +
        `order by "score" desc, "d"."ticket_id" desc limit ${limit}`,
      values: [query, ...values],
    };
  }
  const query = terms.map((t) => `"${t}"*`).join(' OR ');
  const fts = FTS_TABLE[p.kind];
  // bm25() is lower for better matches: negated so that both engines rank "higher is better".
  // Plain SQL through the unit of work (src/db/sql.ts): a statement every new case runs, kept prepared.
  return {
    sql:
      `select "d"."ticket_id", ${text}-bm25("${fts}") as "score" ` +
      `from "${fts}" join "search_docs" as "d" on "d"."id" = "${fts}".rowid ` +
      `where "${fts}" match ? and ${filters.join(' and ')} ` +
      `order by "score" desc, "d"."ticket_id" desc limit ${limit}`,
    values: [query, ...values],
  };
}

export interface ArticleRow {
  id: number;
  ticketId: number;
  number: number;
  title: string;
  body: string;
  product?: string;
  productModule?: string;
  publishedBy: string;
  publishedAt: number;
}

const toArticle = (r: any): ArticleRow => ({
  id: Number(r.id),
  ticketId: Number(r.ticket_id),
  number: Number(r.number),
  title: r.title,
  body: r.body,
  product: r.product ?? undefined,
  productModule: r.product_module ?? undefined,
  publishedBy: r.published_by,
  publishedAt: Number(r.published_at),
});

export async function saveArticle(queryable: Queryable, a: Omit<ArticleRow, 'id'>): Promise<void> {
  const db = knexOf(queryable);
  const row = {
    ticket_id: a.ticketId,
    number: a.number,
    title: a.title,
    body: a.body,
    product: a.product ?? null,
    product_module: a.productModule ?? null,
    published_by: a.publishedBy,
    published_at: a.publishedAt,
  };
  const existing = await db('kb_articles').where({ ticket_id: a.ticketId }).first('id');
  if (existing) await db('kb_articles').where({ id: existing.id }).update(row);
  else await db('kb_articles').insert(row);
}

export async function articlesByTicketIds(queryable: Queryable, ids: readonly number[]): Promise<ArticleRow[]> {
  const db = knexOf(queryable);
  if (!ids.length) return [];
  return (await db('kb_articles').whereIn('ticket_id', [...ids])).map(toArticle);
}

export async function listArticles(
  queryable: Queryable,
  p: { product?: string; limit: number; offset: number },
): Promise<{ articles: ArticleRow[]; total: number }> {
  const db = knexOf(queryable);
  const base = () => (p.product !== undefined ? db('kb_articles').where({ product: p.product }) : db('kb_articles'));
  const [{ n }] = await base().count({ n: '*' });
  const rows = await base()
    .orderBy([
      { column: 'published_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .limit(p.limit)
    .offset(p.offset);
  return { articles: rows.map(toArticle), total: Number(n) };
}

export async function findArticle(queryable: Queryable, id: number): Promise<ArticleRow | undefined> {
  const db = knexOf(queryable);
  const r = await db('kb_articles').where({ id }).first();
  return r ? toArticle(r) : undefined;
}

export async function articleProducts(queryable: Queryable): Promise<string[]> {
  const db = knexOf(queryable);
  return (await db('kb_articles').whereNotNull('product').distinct('product').orderBy('product')).map((r: any) =>
    String(r.product),
  );
}

/** A solved case's text for the index: its first customer message and support's last answer (never notes). */
export async function caseTextForIndex(
  queryable: Queryable,
  ticketId: number,
): Promise<{ question: string; answer: string }> {
  // LIMIT 1 written, not bound (see searchDocs): this runs when a mail closes a case. The case's messages still
  // waiting for the ingest batch's flush (a mail that closes the case is one) are written first.
  const pick = async (role: string, order: 'asc' | 'desc') => {
    const found = await row(
      queryable,
      'select "body_text" from "messages" where "ticket_id" = ? and "role" = ? and "internal" = ? ' +
        `order by "id" ${order} limit 1`,
      [ticketId, role, false],
      { messages: (v) => v('ticket_id') === ticketId },
    );
    return String(found?.body_text ?? '');
  };
  return { question: await pick('customer', 'asc'), answer: await pick('consultant', 'desc') };
}
