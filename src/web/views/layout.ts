import { html, type SafeHtml } from '../html.ts';
import type { Strings } from '../i18n.ts';

/**
 * The page shell: one stylesheet from this server, no script, no font or image from anywhere else (the CSP
 * forbids them anyway). `noindex` because every page behind a magic link is personal.
 */
export function layout(p: { s: Strings; title: string; brand: string; body: SafeHtml; footer?: SafeHtml }): string {
  return html`<!doctype html>
<html lang="${p.s.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<meta name="color-scheme" content="light">
<title>${p.title} · ${p.brand}</title>
<link rel="stylesheet" href="/static/mesa.css">
</head>
<body>
<a class="skip" href="#main">${p.s.skip}</a>
<header class="top"><div class="wrap"><span class="brand">${p.brand}</span></div></header>
<main id="main" class="wrap" tabindex="-1">
${p.body}
</main>
<footer class="foot"><div class="wrap">${p.footer ?? ''}</div></footer>
</body>
</html>
`.value;
}
