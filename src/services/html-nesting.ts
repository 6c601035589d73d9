/**
 * How deep a mail's HTML nests, estimated in one pass over its tags, before the case page's sanitizer sees it
 * (portal-page.ts, beside its size limit). htmlparser2 (under sanitize-html) keeps its open elements innermost-first
 * and adds each with `unshift`, so every open tag costs the depth it opens at, and deep HTML costs the square of its
 * depth: a few hundred KB of tags left open took seconds, on the thread that also serves every page, `/healthz` and
 * the mailboxes (docs/performance.md, «El HTML de un correo hostil en la página»). Browsers build no deeper than 512
 * levels either (Chromium's and WebKit's kMaximumHTMLParserDOMTreeDepth).
 */
export const MAX_MAIL_HTML_DEPTH = 512;

/** Elements that never hold others (HTML's void elements). */
const VOID = new Set([
  'area',
  'base',
  'br',
  'col',
  'embed',
  'hr',
  'img',
  'input',
  'keygen',
  'link',
  'meta',
  'param',
  'source',
  'track',
  'wbr',
]);

/** An open element that a new one of these closes first, as HTML parsers do (`<p>uno<p>dos`, rows and cells). */
const CLOSED_BY: Record<string, ReadonlySet<string>> = {
  p: new Set(['p']),
  li: new Set(['li']),
  dt: new Set(['dt', 'dd']),
  dd: new Set(['dt', 'dd']),
  option: new Set(['option']),
  tr: new Set(['tr', 'td', 'th']),
  td: new Set(['td', 'th']),
  th: new Set(['td', 'th']),
};

/** A closing tag ends the nearest open element of its name within this many: deeper ones count as still open. */
const CLOSE_SEARCH = 16;

/** A start or end tag from its `<`: its slash, its name, and a self-closing slash. */
const TAG = /<(\/?)([a-zA-Z][a-zA-Z0-9:-]*)[^>]*?(\/?)>/y;

/** Whether the HTML opens elements more than `limit` deep. Comments are skipped; a tag inside a script or a style
 * counts (none survive the sanitizer anyway), so it errs on the deep side. */
export function nestsDeeperThan(html: string, limit = MAX_MAIL_HTML_DEPTH): boolean {
  const open: string[] = [];
  let gt = -1;
  for (let at = html.indexOf('<'); at !== -1; at = html.indexOf('<', at)) {
    if (html.startsWith('<!--', at)) {
      const end = html.indexOf('-->', at + 4);
      if (end === -1) break;
      at = end + 3;
      continue;
    }
    // Without a `>` ahead no tag is complete; looked up again only once passed, so that the scan stays one pass.
    if (gt < at) gt = html.indexOf('>', at);
    if (gt === -1) break;
    TAG.lastIndex = at;
    const m = TAG.exec(html);
    if (!m) {
      at++;
      continue;
    }
    at = TAG.lastIndex;
    const name = m[2].toLowerCase();
    if (m[1]) {
      for (let i = open.length - 1; i >= Math.max(0, open.length - CLOSE_SEARCH); i--)
        if (open[i] === name) {
          open.length = i;
          break;
        }
      continue;
    }
    if (m[3] || VOID.has(name)) continue;
    const closes = CLOSED_BY[name];
    while (closes && open.length > 0 && closes.has(open[open.length - 1])) open.pop();
    open.push(name);
    if (open.length > limit) return true;
  }
  return false;
}
