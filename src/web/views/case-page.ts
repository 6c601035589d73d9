import crypto from 'node:crypto';
import { productLabel } from '../../tickets/products.ts';
import type { PageMessage, PageModel } from '../../services/portal-page.ts';
import { html, trusted, type SafeHtml } from '../html.ts';
import { formatBytes, formatWhen, type Strings } from '../i18n.ts';
import { sanitizeMailHtml } from '../sanitize.ts';
import { layout } from './layout.ts';
import { productForm } from './product-form.ts';
import { MAX_FILES_PER_MESSAGE } from '../upload.ts';

export interface CasePageInput {
  s: Strings;
  brand: string;
  timeZone: string;
  /** The page's own path (`/caso/<token>`); forms and downloads hang off it. */
  base: string;
  model: PageModel;
  sla?: 'green' | 'yellow' | 'red';
  csrf: string;
  messageNonce: string;
  ratingNonce: string;
  maxAttachmentBytes: number;
  notice?: string;
  error?: PageError;
  draft?: string;
  /** What the customer chose in the product form, shown again beside its error. */
  productDraft?: { choice: string; version: string };
}

/** A form's refusal, shown beside that form. */
export interface PageError {
  form: 'message' | 'rating' | 'product';
  text: string;
}

// The page's markup is laid out by hand (`prettier-ignore` on each template): what is sent is what the tests read.
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The page's one script: the read receipt (src/services/portal.ts). On the first key, touch, wheel or pointer
 * event a person makes on the visible page (isTrusted: not one a script made), it posts …/leido once. A link
 * scanner that only fetches or renders the page makes none. Allowed by its hash in the CSP (status-page.ts), so
 * nothing else inline can run.
 */
const READ_SCRIPT =
  "(function(){var d=document.getElementById('lectura');if(!d)return;" +
  "var t=['pointerdown','pointermove','keydown','touchstart','wheel'];" +
  "function go(e){if(!e.isTrusted||document.visibilityState!=='visible')return;" +
  't.forEach(function(n){removeEventListener(n,go,true)});' +
  "var b=new URLSearchParams();b.set('_csrf',d.dataset.csrf);b.set('hasta',d.dataset.hasta);" +
  "fetch(d.dataset.accion,{method:'POST',body:b,credentials:'same-origin',headers:{'x-mesa-lectura':'1'}," +
  'keepalive:true}).catch(function(){})}' +
  't.forEach(function(n){addEventListener(n,go,{capture:true,passive:true})})})();';
export const READ_SCRIPT_HASH = `sha256-${crypto.createHash('sha256').update(READ_SCRIPT).digest('base64')}`;

export function casePage(p: CasePageInput): string {
  const { s, model } = p;
  const t = model.ticket;
  const filed = html`<time datetime="${iso(t.createdAt)}">${formatWhen(t.createdAt, s, p.timeZone)}</time>`;
  const waitingOn = s.waiting[t.waitingOn] ?? t.waitingOn;
  const light = p.sla ? html`<span class="light light-${p.sla}" aria-hidden="true"></span> ${s.slaLight[p.sla]}` : '';
  // prettier-ignore
  const facts = html`<dl class="facts">
  <div><dt>${s.radicado}</dt><dd class="num">#${t.number}</dd></div>
  <div><dt>${s.filed}</dt><dd>${filed}</dd></div>
  <div><dt>${s.stage}</dt><dd><span class="badge stage-${t.stage}">${s.stages[t.stage]}</span></dd></div>
  <div><dt>${s.priority}</dt><dd><span class="badge prio-${t.priority}">${s.priorities[t.priority]}</span></dd></div>
  ${productLabel(t) ? html`<div><dt>${s.product}</dt><dd>${productLabel(t)}</dd></div>` : ''}
  <div><dt>${s.attendedBy}</dt><dd>${model.attendedBy ?? s.unassigned}</dd></div>
  ${t.stage !== 'cerrado' ? html`<div><dt>${s.waitingOn}</dt><dd>${waitingOn}</dd></div>` : ''}
  ${p.sla ? html`<div><dt>${s.sla}</dt><dd>${light}</dd></div>` : ''}
</dl>`;

  const en = s.lang === 'en';
  const cases = html`<a href="${p.base}/casos">${en ? 'My cases' : 'Mis casos'}</a>`;
  const kb = html`<a href="${p.base}/conocimiento">${en ? 'Knowledge base' : 'Base de conocimiento'}</a>`;
  const thread = model.messages.length
    ? html`<ol class="thread">${model.messages.map((m) => message(p, m))}</ol>`
    : html`<p>${s.noMessages}</p>`;
  // prettier-ignore
  const body = html`
<nav class="crumbs" aria-label="${en ? 'Sections' : 'Secciones'}">${cases} · ${kb}</nav>
<h1><span class="case-no">${s.caseTitle(t.number)}</span> <span class="subject">${t.subject || s.noSubject}</span></h1>
<section class="card summary" aria-label="${s.radicado}">${facts}</section>
${p.notice ? html`<p class="notice" role="status">${p.notice}</p>` : ''}
${model.productChoices.length ? productForm({ ...p, choices: model.productChoices }) : ''}
${model.canRate ? ratingForm(p) : ''}
${!model.canWrite && !model.canRate ? html`<p class="note">${s.closedNote}</p>` : ''}
${t.rating ? html`<p class="note">${s.ratingRecorded(s.ratingNames[t.rating] ?? t.rating)}</p>` : ''}
<section class="conversation" aria-labelledby="conv-h">
  <h2 id="conv-h">${s.conversation}</h2>
  ${thread}
</section>
${model.canWrite ? messageForm(p) : ''}
${model.role === 'customer' && model.unreadUpTo !== undefined ? readReceipt(p, model.unreadUpTo) : ''}`;
  return layout({
    s,
    title: `${s.caseTitle(t.number)} ${t.subject || s.noSubject}`,
    brand: p.brand,
    body,
    footer: html`<p>${s.footer}</p>`,
  });
}

/** Read receipt: sent by the script on a person's input; without script, by the button (a form in <noscript>). */
function readReceipt(p: CasePageInput, upTo: number): SafeHtml {
  // prettier-ignore
  return html`<span id="lectura" hidden data-accion="${p.base}/leido" data-csrf="${p.csrf}" data-hasta="${upTo}"></span>
<noscript><form method="post" action="${p.base}/leido" class="read-receipt">
  <input type="hidden" name="_csrf" value="${p.csrf}">
  <input type="hidden" name="hasta" value="${upTo}">
  <button type="submit">${p.s.readConfirm}</button>
</form></noscript>
<script>${trusted(READ_SCRIPT)}</script>`;
}

/** The newest support answer the page shows: a message or a rating sent from it says these were read. */
function seenField(p: CasePageInput): SafeHtml | string {
  return p.model.unreadUpTo !== undefined
    ? html`<input type="hidden" name="visto" value="${p.model.unreadUpTo}" />`
    : '';
}

function message(p: CasePageInput, m: PageMessage): SafeHtml {
  const { s } = p;
  const who = m.side === 'me' ? s.me : m.author;
  const byCid = new Map(m.attachments.filter((a) => a.contentId).map((a) => [a.contentId!, a.id]));
  const original = m.html
    ? trusted(
        sanitizeMailHtml(m.html, {
          inlineImage: (cid) => (byCid.has(cid) ? `${p.base}/adjuntos/${byCid.get(cid)}` : undefined),
        }),
      )
    : undefined;
  const files = m.attachments
    .filter((a) => !a.inline || !a.contentId)
    .map((a) => {
      const link = html`<a href="${p.base}/adjuntos/${a.id}" download>${a.filename}</a>`;
      return html`<li>${link} <span class="size">(${formatBytes(a.size, s.lang as 'es' | 'en')})</span></li>`;
    });
  const when = formatWhen(m.at, s, p.timeZone);
  const read = m.side === 'support' && m.readAt ? html` <span class="read">· ${s.read}</span>` : '';
  const unverified = m.unverified
    ? html` <span class="unverified" title="${s.unverifiedHint}">· ${s.unverified}</span>`
    : '';
  const summary = html`<summary>${s.originalFormat}</summary>`;
  // prettier-ignore
  return html`<li class="msg ${m.side}" id="m${m.id}">
  <article class="bubble" aria-label="${who}, ${when}">
    <p class="meta"><span class="who">${who}</span> <time datetime="${iso(m.at)}">${when}</time>${read}${unverified}</p>
    <div class="text">${m.text}</div>
    ${files.length ? html`<ul class="files" aria-label="${s.attachments}">${files}</ul>` : ''}
    ${original ? html`<details class="original">${summary}<div class="mail-html">${original}</div></details>` : ''}
  </article>
</li>`;
}

function messageForm(p: CasePageInput): SafeHtml {
  const { s } = p;
  const err = p.error?.form === 'message' ? p.error.text : undefined;
  const invalid = err ? trusted(' aria-invalid="true" aria-describedby="msg-err"') : '';
  const filesHint = s.filesHint(formatBytes(p.maxAttachmentBytes, s.lang as 'es' | 'en'), MAX_FILES_PER_MESSAGE);
  // prettier-ignore
  return html`<section class="card write" aria-labelledby="write-h">
  <h2 id="write-h">${s.addMessage}</h2>
  <form method="post" action="${p.base}/mensaje?_csrf=${encodeURIComponent(p.csrf)}" enctype="multipart/form-data">
    <input type="hidden" name="nonce" value="${p.messageNonce}">
    ${seenField(p)}
    ${err ? html`<p class="error" role="alert" id="msg-err">${err}</p>` : ''}
    <label for="mensaje">${s.messageLabel}</label>
    <textarea id="mensaje" name="mensaje" rows="5"${invalid}>${p.draft ?? ''}</textarea>
    <label for="adjuntos">${s.filesLabel}</label>
    <input id="adjuntos" name="adjuntos" type="file" multiple aria-describedby="adjuntos-hint">
    <p class="hint" id="adjuntos-hint">${filesHint}</p>
    <button type="submit">${s.send}</button>
  </form>
</section>`;
}

function ratingForm(p: CasePageInput): SafeHtml {
  const { s } = p;
  const err = p.error?.form === 'rating' ? p.error.text : undefined;
  const describedBy = `comentario-hint${err ? ' rate-err' : ''}`;
  const draft = p.error?.form === 'rating' ? (p.draft ?? '') : '';
  // prettier-ignore
  return html`<section class="card rate" id="calificar" aria-labelledby="rate-h">
  <h2 id="rate-h">${s.ratingTitle}</h2>
  <p>${s.ratingIntro}</p>
  <form method="post" action="${p.base}/calificacion">
    <input type="hidden" name="_csrf" value="${p.csrf}">
    <input type="hidden" name="nonce" value="${p.ratingNonce}">
    ${seenField(p)}
    ${err ? html`<p class="error" role="alert" id="rate-err">${err}</p>` : ''}
    <label for="comentario">${s.ratingComment}</label>
    <textarea id="comentario" name="comentario" rows="3"
      aria-describedby="${describedBy}">${draft}</textarea>
    <p class="hint" id="comentario-hint">${s.ratingCommentHint}</p>
    <div class="buttons">
      <button type="submit" name="veredicto" value="satisfactoria" class="good">${s.good}</button>
      <button type="submit" name="veredicto" value="insatisfactoria" class="bad">${s.bad}</button>
    </div>
  </form>
</section>`;
}
