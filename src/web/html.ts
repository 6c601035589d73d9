/**
 * Server-rendered HTML with escaping by default: every value interpolated into `html`…`` is escaped unless it is
 * itself `SafeHtml` (the output of `html`, or of the mail sanitizer). Arrays are joined. This is output encoding,
 * not sanitizing: mail HTML goes through `sanitize.ts` (sanitize-html), never through here.
 */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

type Value = SafeHtml | string | number | boolean | null | undefined | readonly Value[];

function render(v: Value): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof SafeHtml) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: Value[]): SafeHtml {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new SafeHtml(out);
}

/** Trusted markup produced by a sanitizer. */
export function trusted(markup: string): SafeHtml {
  return new SafeHtml(markup);
}
