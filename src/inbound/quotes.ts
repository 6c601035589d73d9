import EmailReplyParser from 'email-reply-parser';
import { convert } from 'html-to-text';

/**
 * Keeps only what the person wrote. email-reply-parser (Crisp's port of GitHub's parser, with quote headers in
 * many locales including Spanish) does the text; three things are handled around it:
 * - quote headers that clients wrap over two lines ("El mar, 3 mar 2026 a las 10:15, Soporte\n<x@y> escribió:"),
 *   which the library only sees on one line, are joined first;
 * - Outlook's header block ("De: / Enviado: / Para: / Asunto:", "From: / Sent: / To: / Subject:") and the
 *   "-----Mensaje original-----" separator cut everything after them;
 * - HTML-only mail is cut at the clients' quote containers (Gmail `gmail_quote`, Outlook `divRplyFwdMsg`,
 *   Thunderbird `moz-cite-prefix`, Apple `blockquote type=cite`) before it is turned into text.
 */
const HTML_QUOTE_MARKERS = [
  /<div[^>]+class=["'][^"']*gmail_quote[^"']*["']/i,
  /<div[^>]+id=["']divRplyFwdMsg["']/i,
  /<div[^>]+id=["']appendonsend["']/i,
  /<hr[^>]+id=["']stopSpelling["']/i,
  /<div[^>]+class=["'][^"']*moz-cite-prefix[^"']*["']/i,
  /<blockquote[^>]+type=["']cite["']/i,
  /<div[^>]+class=["'][^"']*yahoo_quoted[^"']*["']/i,
  /<div[^>]+style=["'][^"']*border-top:\s*solid\s+#[Ee]1[Ee]1[Ee]1[^"']*["']/i,
];

const OUTLOOK_BLOCK = /^\s*\*?(De|From|Von|De la|Da)\s*:\*?\s.+\n(?:.*\n){0,2}?\s*\*?(Enviado(?: el)?|Sent|Fecha|Date|Gesendet)\s*:\*?\s/im;
const SEPARATORS = /^\s*(-{2,}\s*(Mensaje original|Original Message|Mensaje reenviado|Forwarded message|Ursprüngliche Nachricht)\s*-{2,}|_{10,})\s*$/im;
const SIGNATURES = /^\s*(Enviado desde mi (iPhone|iPad|Android|móvil|celular|Samsung.*|dispositivo.*)|Sent from my (iPhone|iPad|Android|mobile device|phone)|Obtener Outlook para (iOS|Android)|Get Outlook for (iOS|Android)|Enviado desde Outlook.*|Sent from Outlook.*|Enviado desde Correo para Windows.*|Sent from Mail for Windows.*)\s*$/im;

export function htmlToText(html: string): string {
  return convert(html, {
    wordwrap: false,
    selectors: [
      { selector: 'img', format: 'skip' },
      { selector: 'a', options: { ignoreHref: true } },
      { selector: 'style', format: 'skip' },
      { selector: 'script', format: 'skip' },
    ],
  });
}

function cutAtFirst(text: string, patterns: RegExp[]): string {
  let cut = text.length;
  for (const p of patterns) {
    const m = p.exec(text);
    if (m && m.index < cut) cut = m.index;
  }
  return text.slice(0, cut);
}

function joinWrappedQuoteHeaders(text: string): string {
  // "El …, Fulano\n<fulano@x> escribió:" → one line; likewise "On …\n… wrote:".
  return text.replace(/^((?:El|On|Am|Le|Il|Em)\s[^\n]{5,200})\n([^\n]{1,200}(?:escribió|wrote|schrieb|a écrit|ha scritto|escreveu)\s*:)\s*$/gim, '$1 $2');
}

export function stripQuotedText(text: string): string {
  if (!text.trim()) return '';
  let t = text.replace(/\r\n/g, '\n');
  t = joinWrappedQuoteHeaders(t);
  t = cutAtFirst(t, [OUTLOOK_BLOCK, SEPARATORS, SIGNATURES]);
  let visible: string;
  try {
    visible = new EmailReplyParser().parseReply(t);
  } catch {
    visible = t;
  }
  // The library drops a reply that is all quote; keep the text rather than an empty message.
  if (!visible.trim() && t.trim() && !/^\s*>/.test(t.trim())) visible = t;
  return visible.replace(/\n{3,}/g, '\n\n').trim();
}

export function visibleTextOf(mail: { text: string; html?: string }): string {
  if (mail.text.trim()) return stripQuotedText(mail.text);
  if (mail.html) return stripQuotedText(htmlToText(cutAtFirst(mail.html, HTML_QUOTE_MARKERS)));
  return '';
}

export function fullTextOf(mail: { text: string; html?: string }): string {
  if (mail.text.trim()) return mail.text.trim();
  return mail.html ? htmlToText(mail.html).trim() : '';
}
