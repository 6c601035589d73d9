/**
 * `text`'s first `max` UTF-16 code units, without half a character: a cut between the two halves of an emoji (a
 * surrogate pair) drops the first half too, instead of leaving a code unit that no UTF-8 can carry (a database
 * stores it as «�», a JSON parser may refuse it).
 */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  const last = text.charCodeAt(max - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}
