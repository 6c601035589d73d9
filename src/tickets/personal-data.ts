/**
 * What of a customer's personal data may appear in a support answer, taken out before the answer becomes a
 * public article: the requester's name and address, e-mail addresses, phone numbers, street addresses and
 * identity numbers. The consultant who writes the article text themselves decides what it says.
 */
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Street addresses the Colombian way ("Calle 45 # 12-30", "Cra. 7 No. 32-16"). */
const STREET_NUMBERED = new RegExp(
  String.raw`\b(calle|cl|carrera|cra|kr|cr|avenida|av|diagonal|dg|transversal|tv)\.?\s+` +
    // A second number only after a mark (#, No., N°) or spaces: never two `\d+` side by side, which would try every
    // split of a long run of digits ("Calle 4512-30" is then one number and its plate).
    String.raw`\d+(?:[a-z]?(?:\s*(?:#|no\.?|n°)\s*|\s+)\d+)?[a-z]?\s*-\s*\d+`,
  'gi',
);

export function withoutPersonalData(text: string, who: { requester: string; requesterName?: string }): string {
  let out = text;
  const names = (who.requesterName ?? '').split(/\s+/).filter((n) => n.length >= 3);
  for (const n of names) out = out.replace(new RegExp(`(?<![\\p{L}])${escape(n)}(?![\\p{L}])`, 'giu'), '[cliente]');
  const local = who.requester.split('@')[0];
  out = out.replace(/(?<![\w.+-])[\w.+-]+@[\w-]+(\.[\w-]+)+/g, '[correo]');
  if (local.length >= 3) out = out.replace(new RegExp(`(?<![\\w])${escape(local)}(?![\\w])`, 'gi'), '[cliente]');
  // Street addresses the Colombian way ("Calle 45 # 12-30", "Cra. 7 No. 32-16") and elsewhere ("Av. Corrientes 1234").
  out = out.replace(STREET_NUMBERED, '[dirección]');
  out = out.replace(/\b(avenida|av\.)\s+[\p{L} ]{2,30}\s\d{2,5}\b/giu, '[dirección]');
  // Phone numbers: 7 or more digits with optional separators and country code.
  out = out.replace(
    /(?<!\d)(\+?\d{1,3}[\s.-]?)?(\(?\d{1,4}\)?[\s.-]?)?\d{3}[\s.-]?\d{2,4}[\s.-]?\d{2,4}(?!\d)/g,
    (m) => (m.replace(/\D/g, '').length >= 7 ? '[teléfono]' : m),
  );
  return out;
}
