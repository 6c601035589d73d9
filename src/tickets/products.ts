/**
 * Product, module and version of a case, read from what the customer wrote. The guides ask for the module first
 * in the subject ("BANCOS, Factura mal cargada"); customers also write "Módulo Nómina", "versión 4.2", "v4.2.1",
 * with or without accents, in any case, sometimes with a typo. A wrong product sends the case to the wrong
 * consultant and earns a wrong answer, so this never guesses: when two products fit, none is chosen and the
 * confirmation asks.
 */

export interface CatalogueModule {
  name: string;
  aliases: readonly string[];
}

export interface CatalogueProduct {
  name: string;
  aliases: readonly string[];
  versions: readonly string[];
  modules: readonly CatalogueModule[];
}

export interface Catalogue {
  products: readonly CatalogueProduct[];
}

export interface ProductGuess {
  product?: string;
  module?: string;
  version?: string;
  /** When no product was chosen although some were named: the products that fit (for the ask). */
  candidates: string[];
}

export const EMPTY_CATALOGUE: Catalogue = Object.freeze({ products: Object.freeze([]) as readonly CatalogueProduct[] });

export const foldText = (s: string): string =>
  s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase();

const WORD = /[a-z]+|\d+(?:\.\d+)*/g;
const wordsOf = (s: string): string[] => foldText(s).match(WORD) ?? [];

interface Entry {
  product: string;
  module?: string;
  words: string[];
}

/** Optimal string alignment distance, capped: only "at most one edit" matters here. */
function withinOneEdit(a: string, b: string): boolean {
  if (Math.abs(a.length - b.length) > 1) return false;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  if (a.slice(i + 1) === b.slice(i + 1)) return true; // substitution (or equal)
  if (a.slice(i) === b.slice(i + 1) || a.slice(i + 1) === b.slice(i)) return true; // insertion / deletion
  return a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2); // transposition
}

/** Spanish plurals: "banco"/"bancos", "orden"/"ordenes", "reporte"/"reportes". */
const samePlural = (a: string, b: string): boolean =>
  a === b || a + 's' === b || b + 's' === a || a + 'es' === b || b + 'es' === a;

const TYPO_MIN_LENGTH = 5;

/**
 * One slip of the finger: a letter dropped, changed or two swapped. An extra letter counts only in long words:
 * short words with one letter more than a catalogue word are usually other words ("blanco", "banco").
 */
function isTypoOf(word: string, name: string): boolean {
  return withinOneEdit(word, name) && (word.length <= name.length || word.length >= 7);
}
const EXPLICIT = new Set(['modulo', 'producto', 'aplicativo', 'sistema']);
const FILLER = new Set(['de', 'del', 'la', 'el', 'los', 'las']);

interface Mention {
  entry: Entry;
  start: number;
  end: number;
  explicit: boolean;
}

/** An index of the catalogue's names, built once per catalogue. */
export class ProductMatcher {
  private readonly entries: Entry[] = [];
  private readonly vocabulary = new Set<string>();

  constructor(readonly catalogue: Catalogue) {
    for (const p of catalogue.products) {
      for (const n of [p.name, ...p.aliases]) this.add({ product: p.name, words: wordsOf(n) });
      for (const m of p.modules)
        for (const n of [m.name, ...m.aliases]) this.add({ product: p.name, module: m.name, words: wordsOf(n) });
    }
    // Longest names first: "Cuentas por pagar" before "Cuentas".
    this.entries.sort((a, b) => b.words.length - a.words.length);
  }

  get empty(): boolean {
    return this.entries.length === 0;
  }

  private add(e: Entry): void {
    if (!e.words.length) return;
    this.entries.push(e);
    for (const w of e.words) this.vocabulary.add(w);
  }

  /** A customer's word as a catalogue word: itself (singular or plural), or the one catalogue word a typo away. */
  private canonical(word: string): string {
    if (/^\d/.test(word)) return word;
    for (const v of this.vocabulary) if (samePlural(word, v)) return word;
    if (word.length < TYPO_MIN_LENGTH) return word;
    const near: string[] = [];
    for (const v of this.vocabulary) {
      if (v.length < TYPO_MIN_LENGTH - 1 || ![v, `${v}s`, v.replace(/s$/, '')].some((f) => isTypoOf(word, f))) continue;
      // "inventario" and "inventarios" are one word for this purpose.
      if (!near.some((n) => samePlural(n, v))) near.push(v);
    }
    return near.length === 1 ? near[0] : word;
  }

  private mentions(text: string): Mention[] {
    const raw = wordsOf(text);
    const words = raw.map((w) => this.canonical(w));
    const found: Mention[] = [];
    for (let i = 0; i < words.length; i++) {
      for (const e of this.entries) {
        if (!e.words.every((w, k) => words[i + k] !== undefined && samePlural(words[i + k], w))) continue;
        let j = i - 1;
        while (j >= 0 && FILLER.has(raw[j])) j--;
        found.push({ entry: e, start: i, end: i + e.words.length, explicit: j >= 0 && EXPLICIT.has(raw[j]) });
      }
    }
    // A longer name covers the shorter ones inside it.
    return found.filter(
      (m) => !found.some((o) => o !== m && o.start <= m.start && o.end >= m.end && o.end - o.start > m.end - m.start),
    );
  }

  /**
   * `subject`: the case's subject (or a command's argument); `body`: the first message, where only explicit
   * forms count ("módulo X", "versión 4.2"): a body talks about many things. The head of a subject ("BANCOS, …")
   * and explicit forms outrank the rest of it, which outranks the body.
   */
  identify(subject: string, body = ''): ProductGuess {
    const guess: ProductGuess = { candidates: [] };
    guess.version = versionIn(subject) ?? this.versionAfterName(subject) ?? versionIn(body.slice(0, 2000));
    if (this.empty) return guess;
    const prefix = leadingPart(subject);
    const inSubject = this.mentions(subject);
    const tiers: Mention[][] = [
      [...(prefix ? this.mentions(prefix) : []), ...inSubject.filter((m) => m.explicit)],
      inSubject,
      this.mentions(body.slice(0, 2000)).filter((m) => m.explicit),
    ];
    const tier = tiers.find((t) => t.length > 0);
    if (!tier) return guess;
    const fits = this.productsFitting(tier);
    if (fits.length !== 1) return { ...guess, candidates: fits };
    const product = fits[0];
    // The module: named in the deciding part, or else anywhere in the subject, if only one of this product's is.
    const modulesIn = (ms: Mention[]) => [
      ...new Set(ms.filter((m) => m.entry.module && m.entry.product === product).map((m) => m.entry.module!)),
    ];
    let modules = modulesIn(tier);
    if (!modules.length && tier !== tiers[2]) modules = modulesIn(inSubject);
    return { ...guess, product, module: modules.length === 1 ? modules[0] : undefined };
  }

  /** Each name implies the products that have it (a module name may belong to several); all must agree. */
  private productsFitting(mentions: Mention[]): string[] {
    const sets = mentions.map(
      (m) =>
        new Set(
          this.entries
            .filter(
              (e) => Boolean(e.module) === Boolean(m.entry.module) && e.words.join(' ') === m.entry.words.join(' '),
            )
            .map((e) => e.product),
        ),
    );
    const common = sets.reduce((acc, set) => new Set([...acc].filter((p) => set.has(p))));
    return [...(common.size ? common : new Set(sets.flatMap((set) => [...set])))].sort();
  }

  /** "Nómina 4.2": a dotted number right after a catalogue name. */
  private versionAfterName(text: string): string | undefined {
    const words = wordsOf(text);
    for (const m of this.mentions(text)) if (/^\d+\.\d+(\.\d+){0,2}$/.test(words[m.end] ?? '')) return words[m.end];
    return undefined;
  }
}

/** "BANCOS, Factura mal cargada" → "BANCOS"; "Nómina: no liquida" → "Nómina". Only a short head counts. */
function leadingPart(subject: string): string | undefined {
  // The head runs to the first , : ; – — or " - " (any other hyphen ends it unmatched), found in one pass: a pattern
  // that lets spaces belong to the head or to what follows it tries every split of a long run of spaces.
  const s = subject.trimStart();
  const at = s.search(/[,:;–—-]/);
  if (at < 0 || (s[at] === '-' && !(/\s/.test(s[at - 1] ?? '') && /\s/.test(s[at + 1] ?? '')))) return undefined;
  const head = s.slice(0, at).trimEnd();
  if (head.length < 2 || head.length > 60 || wordsOf(head).length > 5) return undefined;
  return head;
}

function versionIn(text: string): string | undefined {
  const f = foldText(text);
  // "versión 4.2", "version: 4", "ver. 4.2.1"; "v4.2" and "v 4.2" only with a dot ("v2" is too often a draft).
  const m =
    /\b(?:version|vers|ver|release)\.?\s*(?::\s*)?(\d+(?:\.\d+){0,3})\b/.exec(f) ??
    /\bv\.?\s?(\d+(?:\.\d+){1,3})\b/.exec(f);
  return m?.[1];
}

const matchers = new WeakMap<Catalogue, ProductMatcher>();
/** The matcher of a catalogue, built once (the catalogue is frozen with the config). */
export function matcherFor(catalogue: Catalogue): ProductMatcher {
  let m = matchers.get(catalogue);
  if (!m) matchers.set(catalogue, (m = new ProductMatcher(catalogue)));
  return m;
}

/** "Contabilidad · Bancos · 4.2", for mails and pages; undefined when nothing is known. */
export function productLabel(t: {
  product?: string;
  productModule?: string;
  productVersion?: string;
}): string | undefined {
  const parts = [t.product, t.productModule, t.productVersion && `v${t.productVersion}`].filter(Boolean);
  return parts.length ? parts.join(' · ') : undefined;
}
