import mustache from 'mustache';

/**
 * Mustache as the templates use it: each layout and string parsed once, filled per mail from that parse, and the
 * `s.<name>` strings a layout refers to read from the parse tree, so only those are filled.
 */

/** The text part is filled with escaping turned off: it is not HTML. */
export const plain = { escape: (v: unknown) => String(v) };

export type Tokens = ReturnType<typeof mustache.parse>;
const writer = new mustache.Writer();

/**
 * Mustache's parse of a layout or string, made once and filled for every mail (fill()).
 *
 * Mustache's parser builds the text between tags one character at a time: a layout's text tokens hold its 15 KB as
 * thousands of one-character pieces, and every mail filled from them joins those pieces again when its HTML is first
 * read (docs/performance.md, «La salida de correo»). Each text token is given instead the same text taken from the
 * template at once, by the start and end positions the token carries (mustache.parse: `[type, value, start, end]`);
 * a token whose text is not that span (none in Mesa's templates) keeps its own.
 */
export function parsed(template: string): Tokens {
  const tokens = mustache.parse(template);
  const fromTemplate = (list: any[]): void => {
    for (const t of list) {
      if (t[0] === 'text') {
        const span = template.slice(t[2], t[3]);
        if (span === t[1]) t[1] = span;
      }
      if (Array.isArray(t[4])) fromTemplate(t[4]);
    }
  };
  fromTemplate(tokens as unknown as any[]);
  return tokens;
}

/**
 * `mustache.render(template, view, undefined, config)` over a template parsed beforehand: render() looks the
 * parse up in its cache under `template + ':{{:}}'`, which copies and hashes the whole layout on every mail.
 * The rest is what render() does: a new Context over the view, the same tokens, the template for lambdas.
 */
export function fill(tokens: Tokens, template: string, view: object, config?: typeof plain): string {
  // @types/mustache declares the tokens as string[][]; they are what mustache.parse() returns.
  return writer.renderTokens(tokens as unknown as string[][], new mustache.Context(view), undefined, template, config);
}

/** The names `x` of every `s.x` tag in a template, or undefined when it uses `s` itself or a partial. */
export function referencedStrings(template: string): string[] | undefined {
  return stringsIn(mustache.parse(template));
}

/** referencedStrings over a template already parsed. */
export function stringsIn(tokens: Tokens): string[] | undefined {
  const names = new Set<string>();
  let whole = false;
  const walk = (tokens: any[]): void => {
    for (const t of tokens) {
      const [type, value] = t as [string, string];
      if (type === '>') whole = true;
      if (type === 'name' || type === '&' || type === '#' || type === '^') {
        if (value === 's') whole = true;
        else if (value.startsWith('s.')) names.add(value.slice(2).split('.')[0]);
      }
      if (Array.isArray(t[4])) walk(t[4]);
    }
  };
  walk(tokens as unknown as any[]);
  return whole ? undefined : [...names];
}
