import type { CaseListModel } from '../../services/case-list.ts';
import { STAGES, WAITING_ON } from '../../tickets/types.ts';
import type { ListStrings } from '../case-list-strings.ts';
import { html, type SafeHtml } from '../html.ts';
import { formatWhen, type Strings } from '../i18n.ts';
import { layout } from './layout.ts';

/**
 * "Mis casos": a plain GET form (works without script, with a keyboard, on a phone) above a table with a caption
 * and header cells a screen reader announces with each cell. The filters are links' query strings only; what may
 * be listed comes from the link, never from them.
 */
export interface CaseListPageInput {
  s: Strings;
  l: ListStrings;
  brand: string;
  timeZone: string;
  /** `/caso/<token>`: the case the link is for; the list is at `${base}/casos`. */
  base: string;
  caseNumber: number;
  model: CaseListModel;
  /** The consultants' list lives at its own signed path, with no case behind it. */
  self?: string;
}

const option = (value: string, label: string, current: string) =>
  html`<option value="${value}"${current === value ? html` selected` : ''}>${label}</option>`;

function select(name: string, label: string, current: string, options: SafeHtml[], anyLabel: string): SafeHtml {
  const control = html`<select id="f-${name}" name="${name}">${option('', anyLabel, current)}${options}</select>`;
  return html`<div class="field"><label for="f-${name}">${label}</label>${control}</div>`;
}

export function caseListPage(p: CaseListPageInput): string {
  const { s, l, model: m } = p;
  const q = m.query;
  const self = p.self ?? `${p.base}/casos`;
  const staff = m.consultantView;
  // The filters travel with the page: a key ("desde"/"antes", where the next or previous page starts) and the
  // page's number, which only labels it.
  const pageUrl = (n: number, key?: ['desde' | 'antes', string]) => {
    const params = new URLSearchParams(
      Object.entries(q).filter(([, v]) => v !== '' && v !== undefined) as Array<[string, string]>,
    );
    if (key) params.set(...key);
    if (n > 1) params.set('pagina', String(n));
    const qs = params.toString();
    return qs ? `${self}?${qs}` : self;
  };
  const prevUrl = pageUrl(m.page - 1, m.prevKey ? ['antes', m.prevKey] : undefined);
  const nextUrl = pageUrl(m.page + 1, m.nextKey ? ['desde', m.nextKey] : undefined);
  const position = m.more ? String(m.page) : `${m.page} / ${m.pages}`;
  const heading = staff ? l.allCases : m.wholeOrganization ? l.orgCases : l.myCases;
  const numberInput = html`<input id="f-numero" name="numero" inputmode="numeric" pattern="#?[0-9]*"
    value="${q.numero}" size="8">`;
  const textInput = html`<input id="f-texto" name="texto" type="search" value="${q.texto}" maxlength="100">`;
  const orders = Object.entries(l.orders).map(([k, v]) => option(k, v, q.orden));
  const form = html`<form class="filters" method="get" action="${self}" role="search" aria-label="${l.filters}">
  <div class="field"><label for="f-numero">${l.number}</label>${numberInput}</div>
  <div class="field"><label for="f-texto">${l.text}</label>${textInput}</div>
  ${select(
    'estado',
    l.state,
    q.estado,
    [option('abiertos', l.openOnes, q.estado), ...STAGES.map((st) => option(st, s.stages[st], q.estado))],
    l.any,
  )}
  ${select(
    'producto',
    l.product,
    q.producto,
    m.choices.products.map((pr) => option(pr, pr, q.producto)),
    l.any,
  )}
  ${select(
    'consultor',
    l.consultant,
    q.consultor,
    m.choices.consultants.map((c) => option(c, c, q.consultor)),
    l.any,
  )}
  ${select(
    'espera',
    l.waitingOn,
    q.espera,
    WAITING_ON.map((w) => option(w, s.waiting[w] ?? w, q.espera)),
    l.any,
  )}
  ${select(
    'semaforo',
    l.light,
    q.semaforo,
    ['green', 'yellow', 'red'].map((li) => option(li, l.lights[li], q.semaforo)),
    l.any,
  )}
  <div class="field"><label for="f-orden">${l.order}</label><select id="f-orden" name="orden">${orders}</select></div>
  <div class="actions"><button type="submit">${l.apply}</button> <a href="${self}">${l.clear}</a></div>
</form>`;
  const rows = m.rows.map((r) => {
    const t = r.ticket;
    return html`<tr>
  <th scope="row">${r.url ? html`<a href="${new URL(r.url).pathname}">#${t.number}</a>` : html`#${t.number}`}</th>
  <td>${t.subject || s.noSubject}</td>
  ${staff ? html`<td>${t.organization}</td>` : ''}
  <td>${r.product ?? '—'}</td>
  <td><span class="badge stage-${t.stage}">${s.stages[t.stage]}</span></td>
  <td>${t.stage === 'cerrado' ? '—' : (s.waiting[t.waitingOn] ?? t.waitingOn)}</td>
  <td>${r.light ? html`<span class="light light-${r.light}" aria-hidden="true"></span> ${l.lights[r.light]}` : '—'}</td>
  <td>${r.consultant ?? s.unassigned}</td>
  <td><time datetime="${new Date(t.createdAt).toISOString()}">${formatWhen(t.createdAt, s, p.timeZone)}</time></td>
  <td>${r.vobo ? l.voboNames[r.vobo] : '—'}</td>
  ${staff ? html`<td>${r.notes ?? 0}</td>` : ''}
</tr>`;
  });
  const headings = [
    l.number,
    l.title,
    ...(staff ? [l.organization] : []),
    l.product,
    l.state,
    l.waitingOn,
    l.light,
    l.consultant,
    l.openedAt,
    l.vobo,
    ...(staff ? [l.notes] : []),
  ];
  const table = m.rows.length
    ? html`<div class="table-scroll" role="region" aria-labelledby="cases-caption" tabindex="0"><table class="cases">
<caption id="cases-caption">${l.caption(m.total, m.page, m.pages, m.more)}</caption>
<thead><tr>${headings.map((h) => html`<th scope="col">${h}</th>`)}</tr></thead>
<tbody>${rows}</tbody>
</table></div>`
    : html`<p class="empty">${l.none}</p>`;
  const prev = m.page > 1 ? html`<a rel="prev" href="${prevUrl}">${l.previous}</a>` : '';
  const next = m.hasNext ? html`<a rel="next" href="${nextUrl}">${l.next}</a>` : '';
  const current = html`<span aria-current="page">${position}</span>`;
  const nav =
    m.page > 1 || m.hasNext
      ? html`<nav class="pager" aria-label="${l.pagination}">${prev} ${current} ${next}</nav>`
      : '';
  const back = html`<a href="${p.base}">${l.backToCase(p.caseNumber)}</a>`;
  const kb = html`<a href="${p.base}/conocimiento">${l.kb}</a>`;
  const crumbs = html`<nav class="crumbs" aria-label="${l.kb}">${back} · ${kb}</nav>`;
  const body = html`${staff ? html`<p>${l.readOnly}</p>` : crumbs}
<h1>${heading}</h1>
${m.ignored.length ? html`<p class="notice error" role="alert">${l.ignored(m.ignored.join(', '))}</p>` : ''}
${form}
${table}
${nav}`;
  return layout({ s, title: heading, brand: p.brand, body, footer: html`<p>${s.footer}</p>` });
}
