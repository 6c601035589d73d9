import { html } from '../html.ts';
import type { Strings } from '../i18n.ts';
import { layout } from './layout.ts';

/** The small pages around the case page: not found, stale link, lost link, plain messages. */

/**
 * A mistyped address, the site's root, a forged or broken link: the same page for all (it tells nothing about cases),
 * with the ways forward a customer has: the link in their mail, «Perdí mi enlace», or a mail to the desk.
 */
export function notFoundPage(s: Strings, brand: string, supportAddress: string): string {
  return layout({
    s,
    brand,
    title: s.notFoundTitle,
    body: html`<h1>${s.notFoundTitle}</h1><section class="card"><p>${s.notFound}</p>
<p>${s.notFoundHelp} <a href="/perdi-mi-enlace">${s.lostLink}</a></p>
<p>${s.newCaseByMail} <a href="mailto:${supportAddress}">${supportAddress}</a>.</p></section>`,
  });
}

export function stalePage(p: { s: Strings; brand: string; action: string; csrf: string }): string {
  const { s } = p;
  return layout({
    s,
    brand: p.brand,
    title: s.expiredTitle,
    body: html`<h1>${s.expiredTitle}</h1>
<section class="card"><p>${s.expired}</p>
<form method="post" action="${p.action}">
  <input type="hidden" name="_csrf" value="${p.csrf}">
  <button type="submit">${s.sendFresh}</button>
</form></section>`,
  });
}

export function lostLinkPage(p: { s: Strings; brand: string; csrf: string; error?: string; value?: string }): string {
  const { s } = p;
  const attrs = html`value="${p.value ?? ''}"${p.error ? html` aria-invalid="true" aria-describedby="email-err"` : ''}`;
  return layout({
    s,
    brand: p.brand,
    title: s.lostTitle,
    body: html`<h1>${s.lostTitle}</h1>
<section class="card"><p>${s.lostIntro}</p>
<form method="post" action="/perdi-mi-enlace">
  <input type="hidden" name="_csrf" value="${p.csrf}">
  ${p.error ? html`<p class="error" role="alert" id="email-err">${p.error}</p>` : ''}
  <label for="correo">${s.emailLabel}</label>
  <input id="correo" name="correo" type="email" autocomplete="email" required maxlength="320" ${attrs}>
  <button type="submit">${s.lostSend}</button>
</form></section>`,
  });
}

export function messagePage(p: { s: Strings; brand: string; title: string; text: string; back?: string }): string {
  const { s } = p;
  const back = p.back ? html`<p><a href="${p.back}">${s.back}</a></p>` : '';
  return layout({
    s,
    brand: p.brand,
    title: p.title,
    body: html`<h1>${p.title}</h1><section class="card"><p role="status">${p.text}</p>${back}</section>`,
  });
}
