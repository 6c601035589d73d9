import { htmlToText, quoteContainerStart } from './html-text.ts';
import { isBlank, isQuoted, quoteHeaderOnly, quoteStartLine } from './quote-start.ts';
import { libraryVisible } from './reply-library.ts';

/**
 * Keeps only what the person wrote. email-reply-parser does the core (reply-library.ts): `>` fragments, one-line
 * quote headers, signatures. Around it Mesa handles what it misses in real mail: wrapped quote headers, header
 * blocks of Outlook and forwards, separators and mobile signatures (quote-start.ts, which cuts first), and
 * HTML-only mail, cut at the clients' quote containers before it becomes text (html-text.ts).
 */

function tidy(text: string): string {
  const lines = text.split('\n').map((l) => l.replace(/(?<![ \t\u00a0])[ \t\u00a0]+$/, ''));
  // Trailing rules (Outlook's "________", a text-rendered <hr>) and Gmail's tracking mark "ᐧ" are not text.
  while (lines.length && (isBlank(lines[lines.length - 1]) || /^\s*([-_=*]{5,}|ᐧ)\s*$/.test(lines[lines.length - 1])))
    lines.pop();
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
  return (
    tidy(
      t
        .split('\n')
        .filter((l) => !isQuoted(l))
        .join('\n'),
    ) || tidy(t)
  );
}

export function visibleTextOf(mail: { text: string; html?: string; textFromHtml?: boolean }): string {
  const useHtml = mail.html && (mail.textFromHtml || !mail.text.trim());
  if (useHtml) {
    const html = mail.html!;
    const cut = quoteContainerStart(html);
    // Without a quote container, the text parse.ts already made of this same HTML: not converted a second time.
    const own = cut === html.length && mail.textFromHtml ? mail.text : htmlToText(html.slice(0, cut));
    return stripQuotedText(own);
  }
  return stripQuotedText(mail.text);
}

export function fullTextOf(mail: { text: string; html?: string }): string {
  if (mail.text.trim()) return mail.text.replace(/\u0000/g, '').trim();
  return mail.html ? htmlToText(mail.html).trim() : '';
}
