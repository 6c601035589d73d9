/**
 * Subjects: the `[Caso #N]` tag and reply/forward prefixes. Prefixes seen from Spanish and other clients:
 * RE/Re/RV (Outlook es "reenviado"), RES/ENC (Outlook pt), Fwd/Fw/TR, AW/WG (de), SV/VS (nordic), R (it),
 * also with counters such as "RE[2]:" or full-width colons from phone keyboards.
 */
// Spaces are taken by one `\s*` at a time, never by two in a row that could share them: a forged subject (or the
// Subject of a returned message, which arrives unfolded) with a long run of spaces would be retried at every split.
const TAG = /\[\s*(?:caso|case|ticket)\s*(?:#\s*)?(\d{1,9})\s*\]/i;
const PREFIX =
  /^\s*(?:(?:re|rv|res|fwd?|fw|tr|aw|wg|sv|vs|r|enc|ref|rif|antw|doorst)\s*(?:(?:\[\d+\]|\(\d+\))\s*)?[:：]\s*)+/i;

/** What stands for the subject of a case opened from a mail without one. */
export const NO_SUBJECT = '(sin asunto)';

/** NO_SUBJECT in the language of the desk's mail (LOCALE). */
export const noSubject = (locale: string): string => (locale === 'en' ? '(no subject)' : NO_SUBJECT);

export function caseNumberFromSubject(subject: string): number | undefined {
  const m = TAG.exec(subject);
  if (!m) return undefined;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** The subject a case is filed under: no prefixes, no tag, collapsed spaces. */
export function cleanSubject(subject: string): string {
  let s = subject.replace(/\s+/g, ' ').trim();
  for (let i = 0; i < 5; i++) {
    const before = s;
    s = s.replace(PREFIX, '').replace(TAG, '').replace(/\s+/g, ' ').trim();
    if (s === before) break;
  }
  return s.slice(0, 500);
}

export function taggedSubject(number: number, subject: string): string {
  return `[Caso #${number}] ${cleanSubject(subject) || NO_SUBJECT}`;
}
