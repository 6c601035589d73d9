import type { ArticleRow } from '../../db/repos/search.ts';
import type { ListStrings } from '../case-list-strings.ts';
import { html } from '../html.ts';
import { formatWhen, type Strings } from '../i18n.ts';
import { layout } from './layout.ts';

/** "Base de conocimiento": a GET search form with a product filter, the results or every article, one article. */
export interface KnowledgePageInput {
  s: Strings;
  l: ListStrings;
  brand: string;
  timeZone: string;
  base: string;
  caseNumber: number;
  query: string;
  product: string;
  products: string[];
  articles: ArticleRow[];
  total: number;
  page: number;
  pages: number;
}

const excerpt = (body: string) => (body.length > 240 ? `${body.slice(0, 240).replace(/\s+\S*$/, '')}…` : body);

export function knowledgePage(p: KnowledgePageInput): string {
  const { s, l } = p;
  const self = `${p.base}/conocimiento`;
  const heading = p.query ? l.kbResults(p.total, p.query) : l.kbCount(p.total);
  const pageUrl = (n: number) => {
    const params = { ...(p.query ? { q: p.query } : {}), ...(p.product ? { producto: p.product } : {}) };
    return `${self}?${new URLSearchParams({ ...params, pagina: String(n) })}`;
  };
  const back = html`<a href="${p.base}">${l.backToCase(p.caseNumber)}</a>`;
  const queryInput = html`<input id="kb-q" name="q" type="search" value="${p.query}" maxlength="200">`;
  const productOptions = [
    html`<option value="">${l.any}</option>`,
    ...p.products.map((pr) => html`<option value="${pr}"${pr === p.product ? html` selected` : ''}>${pr}</option>`),
  ];
  const productSelect = html`<select id="kb-producto" name="producto">${productOptions}</select>`;
  const articles = p.articles.map((a) => {
    const title = html`<h3><a href="${self}/${a.id}">${a.title}</a></h3>`;
    const meta = a.product ? html`<p class="meta">${[a.product, a.productModule].filter(Boolean).join(' · ')}</p>` : '';
    return html`<li>${title}${meta}<p>${excerpt(a.body)}</p></li>`;
  });
  const prev = p.page > 1 ? html`<a rel="prev" href="${pageUrl(p.page - 1)}">${l.previous}</a>` : '';
  const next = p.page < p.pages ? html`<a rel="next" href="${pageUrl(p.page + 1)}">${l.next}</a>` : '';
  const current = html`<span aria-current="page">${p.page} / ${p.pages}</span>`;
  const body = html`<nav class="crumbs" aria-label="${l.kb}">${back} · <a href="${p.base}/casos">${l.myCases}</a></nav>
<h1>${l.kb}</h1>
<p>${l.kbIntro}</p>
<form class="filters" method="get" action="${self}" role="search" aria-label="${l.kb}">
  <div class="field"><label for="kb-q">${l.kbQuery}</label>${queryInput}</div>
  <div class="field"><label for="kb-producto">${l.product}</label>${productSelect}</div>
  <div class="actions"><button type="submit">${l.kbSearch}</button> <a href="${self}">${l.kbAll}</a></div>
</form>
<section aria-labelledby="kb-results"><h2 id="kb-results">${heading}</h2>
${articles.length ? html`<ol class="articles">${articles}</ol>` : html`<p class="empty">${l.kbNone}</p>`}
</section>
${p.pages > 1 ? html`<nav class="pager" aria-label="${l.pagination}">${prev} ${current} ${next}</nav>` : ''}`;
  return layout({ s, title: l.kb, brand: p.brand, body, footer: html`<p>${s.footer}</p>` });
}

export function articlePage(p: {
  s: Strings;
  l: ListStrings;
  brand: string;
  timeZone: string;
  base: string;
  article: ArticleRow;
}): string {
  const { s, l, article: a } = p;
  const where = [a.product, a.productModule].filter(Boolean).join(' · ');
  const at = new Date(a.publishedAt).toISOString();
  const published = html`<time datetime="${at}">${formatWhen(a.publishedAt, s, p.timeZone)}</time>`;
  const paragraphs = a.body
    .split(/\n{2,}/)
    .map((para) => html`<p>${para.split('\n').map((line, i) => (i ? html`<br>${line}` : html`${line}`))}</p>`);
  const body = html`<nav class="crumbs" aria-label="${l.kb}"><a href="${p.base}/conocimiento">${l.kbBack}</a></nav>
<article class="kb-article">
<h1>${a.title}</h1>
<p class="meta">${where}${a.product ? ' · ' : ''}${published}</p>
<div class="body">${paragraphs}</div>
</article>`;
  return layout({ s, title: a.title, brand: p.brand, body, footer: html`<p>${s.footer}</p>` });
}
