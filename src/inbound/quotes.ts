import EmailReplyParser from 'email-reply-parser';
import { compile } from 'html-to-text';
import { QUOTE_HEADER_PATTERNS, SIGNATURE_PATTERNS } from './reply-parser-patterns.ts';

/**
 * Keeps only what the person wrote. email-reply-parser (Crisp's port of GitHub's parser, with quote headers in
 * many locales including Spanish) does the core: `>` fragments, one-line quote headers, signatures. Around it we
 * handle what it misses in real mail:
 * - quote headers that clients wrap over two to four lines ("El mar, 3 mar 2026 a las 10:15, Soporte\n<x@y>
 *   escribió:", Gmail's "2016-10-24 15:36 GMT+02:00 Foo <\nfoo@bar>:", German "schrieb am …\n… Uhr:");
 * - header blocks of Outlook and forwards ("De: / Enviado: / Para: / Asunto:", "From: / Sent: / To: /
 *   Subject:", Italian "Da: / Data: / A: / Oggetto:", Russian "От: / Отправлено: / Кому:"), in any order;
 * - separators ("-----Mensaje original-----", "-----Original Message-----", "*-------- Original Message
 *   --------*", Outlook's underscore rule) and mobile signatures ("Enviado desde mi iPhone", "Obtener Outlook
 *   para Android");
 * - HTML-only mail, cut at the clients' quote containers (Gmail `gmail_quote`, Outlook `divRplyFwdMsg` and its
 *   border-top div, Thunderbird `moz-cite-prefix`, Apple `blockquote type=cite`) before it becomes text;
 * - hostile input: the library's quote-header patterns backtrack cubically on long lines (a 20 000-character
 *   line took about a minute), so long lines are masked while it runs and only the first lines are given to it.
 */
const HTML_QUOTE_MARKERS = [
  /<div[^>]{0,500}?class=["'][^"']*gmail_quote[^"']*["']/i,
  /<div[^>]{0,500}?id=["']divRplyFwdMsg["']/i,
  /<div[^>]{0,500}?id=["']appendonsend["']/i,
  /<hr[^>]{0,500}?id=["']stopSpelling["']/i,
  /<div[^>]{0,500}?class=["'][^"']*moz-cite-prefix[^"']*["']/i,
  /<blockquote[^>]{0,500}?type=["']?cite["']?/i,
  /<div[^>]{0,500}?class=["'][^"']*yahoo_quoted[^"']*["']/i,
  /<div[^>]{0,500}?style=["'][^"']{0,200}?border-top:\s*solid\s+#(?:e1e1e1|b5c4df)[^"']*["']/i,
];

const SEPARATOR = /^\s*\**\s*(-{2,}\s*(Mensaje original|Original Message|Mensaje reenviado|Forwarded message|Ursprüngliche Nachricht|Message d'origine|Messaggio originale|Mensagem original)\s*-{2,}|_{10,})\s*\**\s*$/i;
const MOBILE_SIGNATURE = /^\s*(Enviado desde mi (iPhone|iPad|Android|móvil|movil|celular|Samsung.*|dispositivo.*|smartphone.*|Huawei.*|Xiaomi.*)|Sent from my (iPhone|iPad|Android|mobile device|phone|Samsung.*|Huawei.*)|Obtener Outlook para (iOS|Android)\b.*|Get Outlook for (iOS|Android)\b.*|Enviado desde Outlook.*|Sent from Outlook.*|Enviado desde Correo para Windows.*|Enviado desde (Yahoo|Mail) .*|Sent from Mail for Windows.*|Sent with Sparrow.*)\s*$/i;

/** A header line of a quoted message, in the languages of our customers and of the corpora we test with. */
const FROM_NAMES = 'from|de|von|da|van|от|od|från|fra|lähettäjä|remitente';
const OTHER_NAMES = 'skickat|till|ämne|sent|enviado(?: el)?|enviada|fecha|date|datum|data|gesendet|отправлено|дата|to|para|a|an|aan|til|кому|cc|cco|subject|asunto|betreff|oggetto|objet|onderwerp|тема|assunto|risposta|reply-to|responder a|envoyé|à|verzonden';
const HEADER_LINE = new RegExp(`^\\s*\\*?\\s*(${FROM_NAMES}|${OTHER_NAMES})\\s*:\\*?(?:\\s|$)`, 'i');
const FROM_LINE = new RegExp(`^\\s*\\*?\\s*(${FROM_NAMES})\\s*:`, 'i');

/** The verbs that end an attribution line ("… escribió:", "… wrote:"), in the locales of the corpora. */
const ATTRIBUTION_VERB = /(wrote|geschreven|escribió|escribio|escrito|a écrit|écrit|schrieb|ha scritto|scritto|escreveu|skrev|schreef|kirjoitti|napisał\(a\)|napisał|pisze|написал\(а\)|написал|пише|写道|작성)/i;
const ATTRIBUTION_OPENING = /^\s*(el|on|le|am|il|em|op|w dniu|den|\d{1,4}[./-])\s?/i;
const DATEISH = /(\d{1,2}:\d{2}|\b(19|20)\d{2}\b|\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b)/;
const EMAIL_IN_BRACKETS = /<\s*(mailto:)?[^<>\s@]+@[^<>\s]+\s*>|\[\s*(mailto:)?[^\][\s@]+@[^\][\s]+\s*\]/;

/** What really starts a signature block, as opposed to a closing word the library also treats as one. */
const SIGNATURE_MARK = /^\s*(--\s*(\n|$)|-- |_{2,}|\+{2,}|={2,}|sent from|enviado desde|get outlook|obtener outlook|t[ée]l[ée]charger outlook|envoy[ée] |von .* gesendet|gesendet von|sendt fra|verzonden vanaf|verstuurd vanaf)/i;

const MAX_LINE_FOR_LIBRARY = 300;
const MAX_LINES_FOR_LIBRARY = 3000;

/**
 * html-to-text's converter for mail HTML, compiled once: `convert(html, options)` compiles its options (a selector
 * decision tree, selderee) on every call, which was ≈ 8 % of the parse thread in `npm run bench`.
 */
const toText = compile({
  wordwrap: false,
  limits: { maxDepth: 1000, maxInputLength: 5 * 1024 * 1024 },
  selectors: [
    { selector: 'img', format: 'skip' },
    { selector: 'a', options: { ignoreHref: true } },
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
    return html.slice(0, 5 * 1024 * 1024).replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, ' ').replace(/<[^>]{0,2000}>/g, ' ').replace(/[ \t]+/g, ' ');
  }
}

function firstIndex(text: string, patterns: RegExp[]): number {
  let cut = text.length;
  for (const p of patterns) {
    const m = p.exec(text);
    if (m && m.index < cut) cut = m.index;
  }
  return cut;
}

const isBlank = (l: string) => l.trim() === '';
const isQuoted = (l: string) => /^\s*>/.test(l);

/**
 * Where the quoted part starts, by line: an attribution (one to four lines ending in ":" with a date and an
 * author, then quoted text or an address), a block of quoted-message headers, a separator, or a mobile signature.
 */
export function quoteStartLine(lines: string[]): number {
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.length > 1000 || isQuoted(line)) continue;
    if (SEPARATOR.test(line) || MOBILE_SIGNATURE.test(line)) return i;
    if (FROM_LINE.test(line) || HEADER_LINE.test(line)) {
      if (headerBlockAt(lines, i)) return i;
    }
    // Mid-paragraph only when the line opens like an attribution: Android and French clients put it right under
    // the reply with no blank line ("C'est super !\nLe 4 janv. 2016 19:03, …").
    const paragraphStart = i === 0 || isBlank(lines[i - 1]) || isQuoted(lines[i - 1]) || ATTRIBUTION_OPENING.test(line);
    if (paragraphStart && !isBlank(line)) {
      const end = attributionEnd(lines, i);
      if (end >= 0) return i;
    }
  }
  return lines.length;
}

/** At least three distinct header names among consecutive header lines (one blank allowed), one of them From. */
function headerBlockAt(lines: string[], start: number): boolean {
  const names = new Set<string>();
  let sawFrom = false;
  let blanks = 0;
  for (let j = start; j < lines.length && j < start + 14; j++) {
    const l = lines[j];
    if (isBlank(l)) { if (++blanks > 1 && names.size > 0) break; continue; }
    const m = HEADER_LINE.exec(l);
    if (!m) {
      // A long value wraps onto the next line ("Para: a@x;\n b@y"): tolerated once the block has begun.
      if (names.size > 0 && j > start && /^\s+\S/.test(l)) continue;
      break;
    }
    blanks = 0;
    names.add(m[1].toLowerCase());
    if (FROM_LINE.test(l)) sawFrom = true;
  }
  return sawFrom && names.size >= 3;
}

/** If lines[i..] begin an attribution ("El …, X <x@y> escribió:" possibly wrapped), the index of its last line. */
function attributionEnd(lines: string[], i: number): number {
  // The first line must look like the start of one (an opening word, a date or an address), so that the reply's
  // last line is not glued onto the attribution below it.
  const first = lines[i] ?? '';
  if (!(ATTRIBUTION_OPENING.test(first) || DATEISH.test(first) || /\S@\S/.test(first))) return -1;
  let joined = '';
  for (let j = i; j < lines.length && j < i + 4; j++) {
    const l = lines[j];
    if (isBlank(l) || isQuoted(l) || l.length > 400) return -1;
    joined += (joined ? ' ' : '') + l.trim();
    if (joined.length > 500) return -1;
    if (!/[:：]\s*$/.test(joined)) continue;
    const hasVerb = ATTRIBUTION_VERB.test(joined);
    const endsWithAddress = /[>\]]\s*[:：]\s*$/.test(joined) && EMAIL_IN_BRACKETS.test(joined);
    const dated = DATEISH.test(joined);
    // "El … <x@y> escribió:", "Some One <x@y> wrote:", "2016-10-24 15:36 GMT+02:00 Foo <x@y>:"
    if (!((hasVerb && (dated || EMAIL_IN_BRACKETS.test(joined))) || (endsWithAddress && dated))) return -1;
    // Quoted text must follow (or the attribution names an address): "escribió:" in a sentence is not a header.
    let k = j + 1;
    while (k < lines.length && isBlank(lines[k])) k++;
    const followedByQuote = k < lines.length && isQuoted(lines[k]);
    if (followedByQuote || EMAIL_IN_BRACKETS.test(joined) || /\S+@\S+\.\S+/.test(joined)) return j;
    return -1;
  }
  return -1;
}

function quoteHeaderOnly(text: string): boolean {
  const lines = text.split('\n');
  return quoteStartLine(lines) === 0 && attributionEnd(lines, 0) === lines.length - 1;
}

/**
 * What the library makes of a text in which none of its own patterns can fire, without running it. The library
 * (emailparser.js) splits a text into fragments at quoted lines ("> …"), at lines its signature patterns match and
 * at blank lines under a line its quote-header patterns match, and first rewrites whatever its quote-header patterns
 * match in the whole text. When no line matches any of those patterns (tried here as one regular expression per
 * list and flags, built from the library's own lists) and no line starts with ">", the whole text is one visible
 * fragment, and what the library returns is the text with each line's trailing whitespace removed and one leading
 * newline dropped (its own steps, done here directly); blank throughout, it is hidden. That is most mail: a new case,
 * the part of a reply above its quote. The library costs ~60 regular expressions per line, run on each line
 * reversed; this was ~12 % of the parse thread in `npm run bench`. tests/unit/inbound/quotes.test.ts holds both ways
 * equal on the corpus and on generated text. Undefined when a pattern could fire: the library decides.
 */
export function unquotedByLibrary(input: string): string | undefined {
  const patterns = libraryPatterns();
  if (!patterns || /^>/m.test(input)) return undefined;
  for (const p of patterns.wholeText) if (p.test(input)) return undefined;
  const lines = input.split('\n');
  let visible = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const trimmed = line.replace(TRAILING_SPACE, '');
    for (const p of patterns.perLine) if (p.test(line) || (trimmed !== line && p.test(trimmed))) return undefined;
    lines[i] = trimmed;
    if (trimmed) visible = true;
  }
  return visible ? lines.join('\n').replace(/^\n/, '').replace(/~*$/, '') : '';
}

/** The library's trimming of a line's end (its LTrim of the reversed line, /^\s+/). */
const TRAILING_SPACE = /\s+$/;

/**
 * email-reply-parser's own pattern lists (quote headers, signatures; copied in reply-parser-patterns.ts), joined into
 * one expression per list and set of flags: per line, and over the whole text for the quote headers (the library's
 * first pass). Built with the first text; if they cannot be joined, every text goes to the library.
 */
type Patterns = { perLine: RegExp[]; wholeText: RegExp[] };
let patterns: Patterns | null | undefined;
function libraryPatterns(): Patterns | undefined {
  if (patterns === undefined) patterns = joinLibraryPatterns();
  return patterns ?? undefined;
}

/** Whether the library's patterns could be joined (else every text goes to the library). */
export async function libraryPatternsReady(): Promise<boolean> {
  return Boolean(libraryPatterns());
}

function joinLibraryPatterns(): Patterns | null {
  const quote = QUOTE_HEADER_PATTERNS;
  const signature = SIGNATURE_PATTERNS;
  const joined = (regexes: RegExp[]): RegExp[] => {
    const byFlags = new Map<string, string[]>();
    for (const r of regexes) {
      // Only the flags that change what matches; g and y (state between calls) are never on these.
      if (r.global || r.sticky) return [];
      byFlags.set(r.flags, [...(byFlags.get(r.flags) ?? []), `(?:${r.source})`]);
    }
    return [...byFlags].map(([flags, sources]) => new RegExp(sources.join('|'), flags));
  };
  const perLine = joined([...quote, ...signature] as RegExp[]);
  const wholeText = joined(quote as RegExp[]);
  return perLine.length && wholeText.length ? { perLine, wholeText } : null;
}

/** The library, with long lines masked (see above) and restored afterwards. */
function libraryVisible(text: string): string {
  const lines = text.split('\n');
  const head = lines.slice(0, MAX_LINES_FOR_LIBRARY);
  const tail = lines.slice(MAX_LINES_FOR_LIBRARY);
  const masked = new Map<string, string>();
  const input = head.map((l, n) => {
    if (l.length <= MAX_LINE_FOR_LIBRARY) return l;
    const token = `MESALONGLINE${n}X`;
    masked.set(token, l);
    return (/^\s*>/.test(l) ? '> ' : '') + token;
  }).join('\n');
  let out = unquotedByLibrary(input) ?? visibleByLibrary(input);
  out = out.replace(/(?:> )?MESALONGLINE\d+X/g, (tok) => masked.get(tok.replace(/^> /, '')) ?? tok);
  // Nothing was cut from the head: the rest of a very long message is the person's too.
  if (tail.length && out.trim() === head.join('\n').trim()) out = [out, ...tail].join('\n');
  return out;
}

/** The library's fragments, as Mesa keeps them. */
export function visibleByLibrary(input: string): string {
  try {
    // The library hides a "signature" that starts at a closing ("Regards", "Cheers", "Cordialement"): that is the
    // person's own text, and a help desk keeps it. Only real signature marks ("-- ", rules, "Sent from …") go.
    const fragments = new EmailReplyParser().read(input).getFragments();
    return fragments
      .filter((f) => !f.isHidden() || (f.isSignature() && !f.isQuoted() && !SIGNATURE_MARK.test(f.getContent())))
      .join('\n')
      .replace(/~*$/, '');
  } catch {
    return input;
  }
}

function tidy(text: string): string {
  const lines: string[] = [];
  for (const l of text.split('\n')) lines.push(l.replace(/[ \t\u00a0]+$/, ''));
  // Trailing rules (Outlook's "________", a text-rendered <hr>) and Gmail's tracking mark "ᐧ" are not text.
  while (lines.length && (isBlank(lines[lines.length - 1]) || /^\s*([-_=*]{5,}|ᐧ)\s*$/.test(lines[lines.length - 1]))) lines.pop();
  while (lines.length && isBlank(lines[0])) lines.shift();
  return lines.join('\n').replace(/\n{3,}/g, '\n\n');
}

export function stripQuotedText(text: string): string {
  if (!text.trim()) return '';
  const t = text.replace(/\r\n?/g, '\n').replace(/\u0000/g, '');
  const lines = t.split('\n');
  const cut = quoteStartLine(lines);
  const own = lines.slice(0, cut).join('\n');
  let visible = libraryVisible(own);
  // The library drops a reply that is all quote; keep the text rather than an empty message.
  if (!visible.trim() && own.trim() && !/^\s*>/.test(own.trim())) visible = own;
  const result = tidy(visible);
  if (result) return result;
  // Nothing above the quote: a bottom-posted reply ("On … wrote:\n> …\nHello"); the library sorts the fragments.
  const bottom = tidy(libraryVisible(t));
  if (bottom && !quoteHeaderOnly(bottom)) return bottom;
  // A mail that is only a forward or only a quote: better the whole text than nothing.
  return tidy(t.split('\n').filter((l) => !isQuoted(l)).join('\n')) || tidy(t);
}

export function visibleTextOf(mail: { text: string; html?: string; textFromHtml?: boolean }): string {
  const useHtml = mail.html && (mail.textFromHtml || !mail.text.trim());
  if (useHtml) {
    const html = mail.html!;
    return stripQuotedText(htmlToText(html.slice(0, firstIndex(html, HTML_QUOTE_MARKERS))));
  }
  return stripQuotedText(mail.text);
}

export function fullTextOf(mail: { text: string; html?: string }): string {
  if (mail.text.trim()) return mail.text.replace(/\u0000/g, '').trim();
  return mail.html ? htmlToText(mail.html).trim() : '';
}
