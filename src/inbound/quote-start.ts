/**
 * Where the quoted part of a reply starts, found by Mesa's own line patterns, for what email-reply-parser misses in
 * real mail: quote headers that clients wrap over two to four lines ("El mar, 3 mar 2026 a las 10:15, Soporte\n<x@y>
 * escribió:", Gmail's "2016-10-24 15:36 GMT+02:00 Foo <\nfoo@bar>:", German "schrieb am …\n… Uhr:"); header blocks
 * of Outlook and forwards ("De: / Enviado: / Para: / Asunto:", "From: / Sent: / To: / Subject:", Italian "Da: /
 * Data: / A: / Oggetto:", Russian "От: / Отправлено: / Кому:"), in any order; separators ("-----Mensaje
 * original-----", "-----Original Message-----", Outlook's underscore rule) and mobile signatures ("Enviado desde mi
 * iPhone", "Obtener Outlook para Android").
 */
const SEPARATOR_TITLES = [
  'Mensaje original',
  'Original Message',
  'Mensaje reenviado',
  'Forwarded message',
  'Ursprüngliche Nachricht',
  "Message d'origine",
  'Messaggio originale',
  'Mensagem original',
];
const SEPARATOR = new RegExp(
  String.raw`^\s*\**\s*(-{2,}\s*(${SEPARATOR_TITLES.join('|')})\s*-{2,}|_{10,})\s*\**\s*$`,
  'i',
);
const MOBILE_SIGNATURES = [
  'Enviado desde mi (iPhone|iPad|Android|móvil|movil|celular|Samsung.*|dispositivo.*|smartphone.*|Huawei.*|Xiaomi.*)',
  'Sent from my (iPhone|iPad|Android|mobile device|phone|Samsung.*|Huawei.*)',
  String.raw`Obtener Outlook para (iOS|Android)\b.*`,
  String.raw`Get Outlook for (iOS|Android)\b.*`,
  'Enviado desde Outlook.*',
  'Sent from Outlook.*',
  'Enviado desde Correo para Windows.*',
  'Enviado desde (Yahoo|Mail) .*',
  'Sent from Mail for Windows.*',
  'Sent with Sparrow.*',
];
const MOBILE_SIGNATURE = new RegExp(String.raw`^\s*(${MOBILE_SIGNATURES.join('|')})\s*$`, 'i');

/** A header line of a quoted message, in the languages of our customers and of the corpora we test with. */
const FROM_NAMES = 'from|de|von|da|van|от|od|från|fra|lähettäjä|remitente';
const OTHER_NAMES =
  'skickat|till|ämne|sent|enviado(?: el)?|enviada|fecha|date|datum|data|gesendet|отправлено|дата|to|para|a|an|' +
  'aan|til|кому|cc|cco|subject|asunto|betreff|oggetto|objet|onderwerp|тема|assunto|risposta|reply-to|responder a|' +
  'envoyé|à|verzonden';
const HEADER_LINE = new RegExp(`^\\s*\\*?\\s*(${FROM_NAMES}|${OTHER_NAMES})\\s*:\\*?(?:\\s|$)`, 'i');
const FROM_LINE = new RegExp(`^\\s*\\*?\\s*(${FROM_NAMES})\\s*:`, 'i');

/** The verbs that end an attribution line ("… escribió:", "… wrote:"), in the locales of the corpora. */
const ATTRIBUTION_VERB = new RegExp(
  '(wrote|geschreven|escribió|escribio|escrito|a écrit|écrit|schrieb|ha scritto|scritto|escreveu|skrev|schreef|' +
    String.raw`kirjoitti|napisał\(a\)|napisał|pisze|написал\(а\)|написал|пише|写道|작성)`,
  'i',
);
const ATTRIBUTION_OPENING = /^\s*(el|on|le|am|il|em|op|w dniu|den|\d{1,4}[./-])\s?/i;
const DATEISH = /(\d{1,2}:\d{2}|\b(19|20)\d{2}\b|\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b)/;
const EMAIL_IN_BRACKETS = /<\s*(mailto:)?[^<>\s@]+@[^<>\s]+\s*>|\[\s*(mailto:)?[^\][\s@]+@[^\][\s]+\s*\]/;

export const isBlank = (l: string) => l.trim() === '';
export const isQuoted = (l: string) => /^\s*>/.test(l);

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
    if (isBlank(l)) {
      if (++blanks > 1 && names.size > 0) break;
      continue;
    }
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

/** Whether a text is nothing but an attribution (a quote's header with no quote under it). */
export function quoteHeaderOnly(text: string): boolean {
  const lines = text.split('\n');
  return quoteStartLine(lines) === 0 && attributionEnd(lines, 0) === lines.length - 1;
}
