import EmailReplyParser from 'email-reply-parser';
import { QUOTE_HEADER_PATTERNS, SIGNATURE_PATTERNS } from './reply-parser-patterns.ts';

/**
 * email-reply-parser (Crisp's port of GitHub's parser, with quote headers in many locales including Spanish), as Mesa
 * runs it: `>` fragments, one-line quote headers, signatures. Its quote-header patterns backtrack cubically on long
 * lines, and some of them across lines (the Dutch «Op … schreef …:», the Scandinavian «… skrev …:» are tried from
 * every line to the end of the text): a hostile mail could hold the parse thread for its whole time limit. So long
 * lines are masked while it runs, only the first lines and characters are given to it (what it answers for them is
 * the person's text, the rest follows when it cut nothing), and a text in which none of its patterns can fire is
 * answered without running it. Mesa's own quote-start.ts, which runs first, reads every line.
 */

/** What really starts a signature block, as opposed to a closing word the library also treats as one. */
const SIGNATURE_MARK = new RegExp(
  String.raw`^\s*(--\s*(\n|$)|-- |_{2,}|\+{2,}|={2,}|sent from|enviado desde|get outlook|obtener outlook|` +
    't[ée]l[ée]charger outlook|envoy[ée] |von .* gesendet|gesendet von|sendt fra|verzonden vanaf|verstuurd vanaf)',
  'i',
);

const MAX_LINE_FOR_LIBRARY = 300;
/** The head the library reads: 1200 lines of «… skrev …» held `mesa ingest` 30 s (its limit) with 3000 and 900 KB. */
const MAX_LINES_FOR_LIBRARY = 100;
const MAX_CHARS_FOR_LIBRARY = 16_000;

/**
 * What the library makes of a text in which none of its own patterns can fire, without running it. The library
 * (emailparser.js) splits a text into fragments at quoted lines ("> …"), at lines its signature patterns match and
 * at blank lines under a line its quote-header patterns match, and first rewrites whatever its quote-header patterns
 * match in the whole text. When no line matches any of those patterns (tried here as one regular expression per
 * list and flags, built from the library's own lists) and no line starts with ">", the whole text is one visible
 * fragment, and what the library returns is the text with each line's trailing whitespace removed and one leading
 * newline dropped (its own steps, done here directly); blank throughout, it is hidden. That is most mail: a new case,
 * the part of a reply above its quote. The library runs dozens of regular expressions on every line, each on the
 * line reversed, so such text is answered without it. tests/unit/inbound/quotes.test.ts holds both ways
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
  return visible
    ? lines
        .join('\n')
        .replace(/^\n/, '')
        .replace(/(?<!~)~*$/, '')
    : '';
}

/** The library's trimming of a line's end (its LTrim of the reversed line, /^\s+/). */
const TRAILING_SPACE = /(?<!\s)\s+$/;

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

/** The library, with long lines masked (see the top of this file) and restored afterwards. */
export function libraryVisible(text: string): string {
  const lines = text.split('\n');
  let taken = 0;
  for (let chars = 0; taken < Math.min(lines.length, MAX_LINES_FOR_LIBRARY); taken++) {
    chars += Math.min(lines[taken].length, MAX_LINE_FOR_LIBRARY) + 1;
    if (chars > MAX_CHARS_FOR_LIBRARY && taken > 0) break;
  }
  const head = lines.slice(0, taken);
  const tail = lines.slice(taken);
  const masked = new Map<string, string>();
  const input = head
    .map((l, n) => {
      if (l.length <= MAX_LINE_FOR_LIBRARY) return l;
      const token = `MESALONGLINE${n}X`;
      masked.set(token, l);
      return (/^\s*>/.test(l) ? '> ' : '') + token;
    })
    .join('\n');
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
      .replace(/(?<!~)~*$/, '');
  } catch {
    return input;
  }
}
