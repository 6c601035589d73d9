import fs from 'node:fs';
import path from 'node:path';
import { TEMPLATES_DIR } from '../paths.ts';
import { compileLayout } from './mjml-layout.ts';
import { fill, parsed, plain, stringsIn, type Tokens } from './mustache-tokens.ts';

/**
 * Mail templates: MJML layout in `templates/<name>.mjml`, a plain-text twin in `templates/<name>.txt`, and the
 * words in `templates/strings/<locale>.json`, apart from the layout.
 *
 * MJML is slow to load and to render, so each layout is compiled to HTML ONCE (on first use, mjml-layout.ts) with
 * its `{{placeholders}}` left intact, and every mail is then a Mustache fill of that HTML (mustache-tokens.ts).
 * Mustache (not a hand-made replace): it is logic-less, small, and HTML-escapes every `{{value}}` by default, so
 * text from a mail (subject, body, file names) can never become markup; only our own strings, already rendered
 * and escaped, go in through `{{{triple}}}` braces. The text part is filled with escaping turned off.
 */
export const TEMPLATE_NAMES = [
  'confirmation',
  'consultant-case',
  'answer',
  'closed',
  'reopened',
  'refusal',
  'consultant-notice',
  'links',
  // Lifecycle mail: sent by src/jobs/lifecycle-mail.ts.
  'autoclose-warning',
  'digest',
  // To ADMIN_ADDRESS when a mailbox's OAuth2 grant is gone (src/mailboxes/).
  'mailbox-alert',
] as const;
export type TemplateName = (typeof TEMPLATE_NAMES)[number];
export type Locale = 'es' | 'en';

export interface Rendered {
  subject: string;
  html: string;
  text: string;
}

/** The mail commands (src/inbound/filters/commands.ts), as a consultant's notice shows them: Spanish, then English. */
const COMMANDS = [
  { usage: '/cerrar', en: '/close', key: 'cerrar' },
  { usage: '/reabrir', en: '/reopen', key: 'reabrir' },
  { usage: '/prioridad alta|media|baja', en: '/priority high|medium|low', key: 'prioridad' },
  { usage: '/etapa analisis|solucion|pruebas', en: '/stage analysis|solution|testing', key: 'etapa' },
  { usage: '/asignar correo@…', en: '/assign email@…', key: 'asignar' },
  { usage: '/nota', en: '/note', key: 'nota' },
  { usage: '/esperar cliente|tercero', en: '/wait customer|third-party', key: 'esperar' },
  { usage: '/producto NÓMINA 4.2', en: '/product NÓMINA 4.2', key: 'producto' },
  { usage: '/publicar [título]', en: '/publish [title]', key: 'publicar' },
  { usage: '/lista', en: '/list', key: 'lista' },
  { usage: '/cc +correo@… -correo@…', en: '/add email@… · /remove email@…', key: 'cc' },
];

export const TEMPLATE_DIR = TEMPLATES_DIR;

type Strings = Record<string, any>;

export class TemplateRenderer {
  private readonly html = new Map<TemplateName, string>();
  private readonly text = new Map<TemplateName, string>();
  private readonly strings = new Map<Locale, Strings>();
  private readonly tables = new Map<string, Strings>();
  private readonly layouts = new Map<TemplateName, Layout>();
  private readonly preparedStrings = new Map<string, Prepared>();
  private readonly commandLists = new Map<Locale, Array<{ usage: string; help: string }>>();
  /** How long the MJML compilations took, for the record (ms). */
  compileMs = 0;

  /**
   * `cacheDir` (DATA_DIR/cache/templates in Mesa) keeps each compiled layout on disk, keyed by its MJML source and
   * the mjml version: a restarted `mesa start` then never loads mjml at all, and its first mail does not wait for it.
   */
  constructor(
    private readonly dir: string = TEMPLATE_DIR,
    private readonly cacheDir?: string,
  ) {}

  /** Compiles every template now (a service may call this at start so the first mail does not pay for it). */
  warm(): this {
    for (const n of TEMPLATE_NAMES) this.layoutOf(n);
    return this;
  }

  compiled(name: TemplateName): string {
    let html = this.html.get(name);
    if (html === undefined) {
      const started = performance.now();
      html = compileLayout(this.dir, name, this.cacheDir);
      this.html.set(name, html);
      this.compileMs += performance.now() - started;
    }
    return html;
  }

  private textOf(name: TemplateName): string {
    let t = this.text.get(name);
    if (t === undefined) {
      t = fs.readFileSync(path.join(this.dir, `${name}.txt`), 'utf8');
      this.text.set(name, t);
    }
    return t;
  }

  private stringsOf(locale: Locale): Strings {
    let s = this.strings.get(locale);
    if (!s) {
      s = JSON.parse(fs.readFileSync(path.join(this.dir, 'strings', `${locale}.json`), 'utf8')) as Strings;
      this.strings.set(locale, s);
    }
    return s;
  }

  /** The raw (unrendered) string table for a template: common strings overlaid with the template's own. */
  table(name: TemplateName, locale: Locale): Strings {
    return { ...this.baseTable(name, locale) };
  }

  /** One string of that table, read without copying it. */
  tableString(name: TemplateName, locale: Locale, key: string): string {
    return this.baseTable(name, locale)[key];
  }

  /** The same table, built once per template and locale: render() copies it only when a `pick` writes to it. */
  private baseTable(name: TemplateName, locale: Locale): Strings {
    const key = `${locale}\0${name}`;
    let t = this.tables.get(key);
    if (!t) {
      const all = this.stringsOf(locale);
      t = { ...all.common, ...all[name] } as Strings;
      this.tables.set(key, t);
    }
    return t;
  }

  /**
   * Both layouts of a template, parsed once, with the `s.<name>` strings each uses (read from Mustache's parse
   * tree, sections included). Only these are filled per mail: a table holds a dozen strings and a layout uses
   * some of them.
   */
  private layoutOf(name: TemplateName): Layout {
    let l = this.layouts.get(name);
    if (!l) {
      const html = this.compiled(name);
      const text = this.textOf(name);
      const htmlTokens = parsed(html);
      const textTokens = parsed(text);
      l = { html, htmlTokens, htmlRefs: stringsIn(htmlTokens), text, textTokens, textRefs: stringsIn(textTokens) };
      this.layouts.set(name, l);
    }
    return l;
  }

  /**
   * The commands a consultant can write by mail, with their help in `locale`: what a consultant's notice lists. A
   * stored mail asks for it with `commands: true` and gets it when it is rendered, like every other word of the
   * template (src/outbound/notifier.ts); mail stored with the list itself renders that list.
   */
  commandList(locale: Locale): Array<{ usage: string; help: string }> {
    let list = this.commandLists.get(locale);
    if (!list) {
      const help = this.stringsOf(locale).commands as Record<string, string>;
      list = COMMANDS.map((c) => ({ usage: `${c.usage} (${c.en})`, help: help[c.key] }));
      this.commandLists.set(locale, list);
    }
    return list;
  }

  /**
   * Fills one template. `pick` chooses variants: `{ heading: 'headingNew' }` uses that key of the template's
   * strings as `s.heading` (dot paths reach nested tables, e.g. `reasons.too_large`).
   */
  render(
    name: TemplateName,
    locale: Locale,
    data: Record<string, unknown>,
    pick: Record<string, string> = {},
  ): Rendered {
    const layout = this.layoutOf(name);
    if (typeof data.commands === 'boolean') data = { ...data, commands: data.commands ? this.commandList(locale) : [] };
    const slots = Object.keys(pick);
    let table = this.baseTable(name, locale);
    if (slots.length) {
      table = { ...table };
      for (const [slot, key] of Object.entries(pick)) table[slot] = picked(table, key);
    }
    const sHtml: Record<string, string> = {};
    const sText: Record<string, string> = {};
    for (const k of layout.htmlRefs ?? Object.keys(table)) {
      const v = table[k];
      if (typeof v !== 'string' || !Object.hasOwn(table, k)) continue;
      const p = this.prepared(v);
      sHtml[k] = p.htmlTokens ? fill(p.htmlTokens, v, data) : v;
    }
    // The subject comes from the text of `title`; a pick's slot is filled whether or not a layout shows it.
    for (const k of layout.textRefs ? [...layout.textRefs, 'title', ...slots] : Object.keys(table)) {
      const v = table[k];
      if (typeof v !== 'string' || !Object.hasOwn(table, k) || Object.hasOwn(sText, k)) continue;
      sText[k] = this.stringText(v, data);
    }
    return {
      subject: subjectLine(sText.title),
      html: fill(layout.htmlTokens, layout.html, { ...data, s: sHtml }),
      text: fill(layout.textTokens, layout.text, { ...data, s: sText }, plain).replace(/\n{3,}/g, '\n\n'),
    };
  }

  /** The subject alone (the text of `title`, after `pick`), as render() gives it: for mail stored now and rendered
   * when it is sent (src/outbound/outbox.ts). */
  subject(
    name: TemplateName,
    locale: Locale,
    data: Record<string, unknown>,
    pick: Record<string, string> = {},
  ): string {
    const table = this.baseTable(name, locale);
    const title = pick.title === undefined ? table.title : picked(table, pick.title);
    return subjectLine(this.stringText(String(title), data));
  }

  /** One string of the table as text, filled with `data`. Our strings may carry a little markup (<strong>); it is
   * dropped from the template text before the data goes in, so that a "<" written by a customer survives. */
  private stringText(v: string, data: Record<string, unknown>): string {
    const p = this.prepared(v);
    return p.textTokens ? fill(p.textTokens, p.stripped, data, plain) : p.stripped;
  }

  /** A string's text form (markup dropped) and each form's parse, when it has a tag at all: without one,
   * Mustache would return it unchanged, so it is used as is. */
  private prepared(v: string): Prepared {
    let p = this.preparedStrings.get(v);
    if (!p) {
      const stripped = v.replace(/<[^<>]+>/g, '');
      p = {
        stripped,
        htmlTokens: v.includes('{{') ? parsed(v) : undefined,
        textTokens: stripped.includes('{{') ? parsed(stripped) : undefined,
      };
      this.preparedStrings.set(v, p);
    }
    return p;
  }
}

interface Layout {
  html: string;
  htmlTokens: Tokens;
  /** undefined: the layout refers to `s` as a whole (or has a partial), so every string is filled. */
  htmlRefs?: string[];
  text: string;
  textTokens: Tokens;
  textRefs?: string[];
}

interface Prepared {
  stripped: string;
  htmlTokens?: Tokens;
  textTokens?: Tokens;
}

/** A subject is one line. */
const subjectLine = (title: string) => title.replace(/\s+/g, ' ').trim();

/** A `pick` key of a string table: a name, or a dot path into a nested table (`reasons.too_large`). */
function picked(table: Strings, key: string): unknown {
  return key.split('.').reduce((o: any, k) => o?.[k], table);
}

/** Text as lines for `{{#lines}}{{.}}<br>{{/lines}}`: escaping stays with Mustache, line breaks stay visible. */
export function linesOf(text: string, maxChars = 20_000): string[] {
  return text
    .slice(0, maxChars)
    .replace(/\r\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim()
    .split('\n');
}

export function humanSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
