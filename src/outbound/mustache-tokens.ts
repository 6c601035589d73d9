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
 * Mustache's parse, with every text token's value made one flat string. Its parser pushes a token per character
 * and then joins neighbours with `+=`, so the text of a layout is a long chain of one-character V8 rope nodes;
 * they are never flattened in place, so every mail's HTML would be a rope over them, and whoever first read it
 * whole (JSON.stringify in the outbox insert) would walk them all again. The same characters, one copy.
 */
export function parsed(template: string): Tokens {
  const flat = (tokens: Tokens): Tokens =>
    tokens.map((t) => {
      const copy = [...t] as typeof t;
      // A JSON round trip is an exact copy of any string (lone surrogates included), and a flat one.
      if (copy[0] === 'text') copy[1] = JSON.parse(JSON.stringify(copy[1])) as string;
      if (Array.isArray(copy[4])) copy[4] = flat(copy[4]);
      return copy;
    }) as Tokens;
  return flat(mustache.parse(template));
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
