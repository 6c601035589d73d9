import { compile, type DomNode, type FormatCallback } from 'html-to-text';

/**
 * Mail HTML as text: the converter Mesa uses for HTML-only mail, and where a client's quoted part starts in the
 * HTML (Gmail `gmail_quote`, Outlook `divRplyFwdMsg` and its border-top div, Thunderbird `moz-cite-prefix`, Apple
 * `blockquote type=cite`), so the quote is cut before the HTML becomes text.
 */
const HTML_QUOTE_MARKERS = [
  /^<div[^>]{0,500}?class=["'][^"']*gmail_quote[^"']*["']/i,
  /^<div[^>]{0,500}?id=["']divRplyFwdMsg["']/i,
  /^<div[^>]{0,500}?id=["']appendonsend["']/i,
  /^<hr[^>]{0,500}?id=["']stopSpelling["']/i,
  /^<div[^>]{0,500}?class=["'][^"']*moz-cite-prefix[^"']*["']/i,
  /^<blockquote[^>]{0,500}?type=["']?cite["']?/i,
  /^<div[^>]{0,500}?class=["'][^"']*yahoo_quoted[^"']*["']/i,
  /^<div[^>]{0,500}?style=["'][^"']{0,200}?border-top:\s*solid\s+#(?:e1e1e1|b5c4df)[^"']*["']/i,
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

type TableCell = { colspan: number; rowspan: number; text: string };

/**
 * A table as text, in one pass over its cells: each row a line with its cells between « | », and a row whose cells
 * run over several lines (a signature beside its logo, a newsletter's layout) as those lines one after another.
 * Not html-to-text's own `dataTable`: it pads columns for a fixed-width font (the page and the notices use a
 * proportional one) and lays the cells out by transposing a square as wide as the table is long, so that a table
 * pasted from a spreadsheet took seconds per thousand rows, and a few MB of it outlasted the parse time limit.
 */
export function tableText(rows: TableCell[][]): string {
  const lines: string[] = [];
  for (const row of rows) {
    const cells = row.map((c) => c.text.trim()).filter((t) => t !== '');
    if (cells.length === 0) continue;
    lines.push(cells.some((t) => t.includes('\n')) ? cells.join('\n') : cells.join(' | '));
  }
  return lines.join('\n');
}

/** html-to-text's walk of a table (thead, tbody, tfoot, rows and their cells), printed by tableText: its documented
 * «Override formatting» API with the builder's own table calls. */
const mailTable: FormatCallback = (elem, walk, builder) => {
  builder.openTable();
  const cell = (node: DomNode) => {
    builder.openTableCell();
    walk(node.children ?? [], builder);
    builder.closeTableCell({ colspan: 1, rowspan: 1 });
  };
  const walkTable = (node: DomNode) => {
    if (node.type !== 'tag') return;
    if (['thead', 'tbody', 'tfoot', 'center'].includes(node.name ?? '')) return node.children?.forEach(walkTable);
    if (node.name !== 'tr') return;
    builder.openTableRow();
    for (const child of node.children ?? []) if (child.type === 'tag' && /^t[dh]$/.test(child.name ?? '')) cell(child);
    builder.closeTableRow();
  };
  elem.children?.forEach(walkTable);
  builder.closeTable({ tableToString: tableText, leadingLineBreaks: 2, trailingLineBreaks: 2 });
};

/**
 * At most this much HTML is turned into text. html-to-text builds the whole document tree first, and a tree of tiny
 * elements costs many times its HTML in memory (docs/performance.md, «Memoria»). 1 MB of an Outlook message is
 * hundreds of thousands of characters of text; the HTML past it stays whole in its blob and in the original, and the
 * text says it was cut.
 */
export const HTML_TO_TEXT_MAX_CHARS = 1024 * 1024;

/** The text's last line when the HTML was longer than HTML_TO_TEXT_MAX_CHARS. */
export const CUT_MARK = '[…]';

/** An inline image or font (`data:` URI) is no text: its payload does not count against the limit. */
const DATA_URI = /\bdata:[a-z]+\/[a-z0-9.+-]+;base64,[a-z0-9+/=\s]{256,}/gi;

/**
 * html-to-text's converter for mail HTML, compiled once: `convert(html, options)` compiles its options (a selector
 * decision tree, selderee) on every call, and every HTML mail would pay for that again.
 */
const toText = compile({
  wordwrap: false,
  formatters: { mailLink, mailTable },
  limits: { maxDepth: 1000, maxInputLength: HTML_TO_TEXT_MAX_CHARS },
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
    { selector: 'table', format: 'mailTable' },
  ],
});

export function htmlToText(html: string): string {
  const source = html.length > HTML_TO_TEXT_MAX_CHARS ? html.replace(DATA_URI, 'data:,') : html;
  const cut = source.length > HTML_TO_TEXT_MAX_CHARS;
  const input = cut ? source.slice(0, HTML_TO_TEXT_MAX_CHARS) : source;
  let text: string;
  try {
    text = toText(input);
  } catch {
    // Pathological HTML (nesting beyond the stack): fall back to dropping tags, never lose the message.
    text = input
      .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, ' ')
      .replace(/<[^>]{0,2000}>/g, ' ')
      .replace(/[ \t]+/g, ' ');
  }
  return cut ? `${text.trimEnd()}\n\n${CUT_MARK}` : text;
}

/** How much of a start tag the quote markers look at: theirs are within its first few hundred characters. */
const TAG_WINDOW = 1024;

/**
 * Where the clients' quoted part starts in mail HTML (the first start tag HTML_QUOTE_MARKERS match), or its length.
 * One walk over the tags: a start tag runs to its `>`, as HTML reads it, and only its own text is searched. The
 * markers run over the whole HTML instead tried up to 500 characters at every `<div` (as many as a few MB of HTML
 * holds), and 30 MB of `<div ` held the parse thread for 25 s.
 */
export function quoteContainerStart(html: string): number {
  let gt = -1;
  for (let at = html.indexOf('<'); at !== -1; at = html.indexOf('<', at + 1)) {
    const next = html.charCodeAt(at + 1) | 0x20;
    const letter = next >= 0x61 && next <= 0x7a;
    // `<` before anything but a letter, `/` or `!` is text, not a tag.
    if (!letter && next !== 0x2f && next !== 0x21) continue;
    if (gt < at) gt = html.indexOf('>', at);
    if (gt === -1) break;
    if (letter) {
      const tag = html.slice(at, Math.min(gt + 1, at + TAG_WINDOW));
      if (HTML_QUOTE_MARKERS.some((marker) => marker.test(tag))) return at;
    }
    at = gt;
  }
  return html.length;
}
