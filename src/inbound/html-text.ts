import { compile, type FormatCallback } from 'html-to-text';

/**
 * Mail HTML as text: the converter Mesa uses for HTML-only mail, and where a client's quoted part starts in the
 * HTML (Gmail `gmail_quote`, Outlook `divRplyFwdMsg` and its border-top div, Thunderbird `moz-cite-prefix`, Apple
 * `blockquote type=cite`), so the quote is cut before the HTML becomes text.
 */
export const HTML_QUOTE_MARKERS = [
  /<div[^>]{0,500}?class=["'][^"']*gmail_quote[^"']*["']/i,
  /<div[^>]{0,500}?id=["']divRplyFwdMsg["']/i,
  /<div[^>]{0,500}?id=["']appendonsend["']/i,
  /<hr[^>]{0,500}?id=["']stopSpelling["']/i,
  /<div[^>]{0,500}?class=["'][^"']*moz-cite-prefix[^"']*["']/i,
  /<blockquote[^>]{0,500}?type=["']?cite["']?/i,
  /<div[^>]{0,500}?class=["'][^"']*yahoo_quoted[^"']*["']/i,
  /<div[^>]{0,500}?style=["'][^"']{0,200}?border-top:\s*solid\s+#(?:e1e1e1|b5c4df)[^"']*["']/i,
];

/**
 * A link in mail HTML: its text, and after it an http(s) address the way a mail client's own text part writes one
 * («aquí <https://…>»), because the address is often the message («le comparto el video aquí»). Not when the text is
 * the address, nor for a link without text (a signature's social icons), nor for other schemes (javascript:, data:,
 * mailto:, #anchors): their text alone. An html-to-text formatter (its documented «Override formatting» API).
 */
const mailLink: FormatCallback = (elem, walk, builder) => {
  const href = String(elem.attribs?.href ?? '').trim();
  let text = '';
  builder.pushWordTransform((word) => {
    text += word;
    return word;
  });
  walk(elem.children, builder);
  builder.popWordTransform();
  if (text && text !== href && /^https?:\/\/[^\s<>]+$/i.test(href))
    builder.addInline(` <${href}>`, { noWordTransform: true });
};

/**
 * html-to-text's converter for mail HTML, compiled once: `convert(html, options)` compiles its options (a selector
 * decision tree, selderee) on every call, and every HTML mail would pay for that again.
 */
const toText = compile({
  wordwrap: false,
  formatters: { mailLink },
  limits: { maxDepth: 1000, maxInputLength: 5 * 1024 * 1024 },
  selectors: [
    { selector: 'img', format: 'skip' },
    { selector: 'a', format: 'mailLink' },
    { selector: 'style', format: 'skip' },
    { selector: 'script', format: 'skip' },
    { selector: 'head', format: 'skip' },
    { selector: 'title', format: 'skip' },
    { selector: 'hr', format: 'skip' },
    // Outlook/Word HTML writes each line as <p class=MsoNormal> with no margin and blank lines as
    // <p><o:p>&nbsp;</o:p></p>: one line break each, or every line would come out double-spaced.
    { selector: 'p.MsoNormal', format: 'block', options: { leadingLineBreaks: 1, trailingLineBreaks: 1 } },
    { selector: 'h1', options: { uppercase: false } },
    { selector: 'h2', options: { uppercase: false } },
    { selector: 'h3', options: { uppercase: false } },
    { selector: 'table', format: 'dataTable', options: { uppercaseHeaderCells: false } },
  ],
});

export function htmlToText(html: string): string {
  try {
    return toText(html);
  } catch {
    // Pathological HTML (nesting beyond the stack): fall back to dropping tags, never lose the message.
    return html
      .slice(0, 5 * 1024 * 1024)
      .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, ' ')
      .replace(/<[^>]{0,2000}>/g, ' ')
      .replace(/[ \t]+/g, ' ');
  }
}

export function firstIndex(text: string, patterns: RegExp[]): number {
  let cut = text.length;
  for (const p of patterns) {
    const m = p.exec(text);
    if (m && m.index < cut) cut = m.index;
  }
  return cut;
}
