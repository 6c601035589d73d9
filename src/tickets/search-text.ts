import { newStemmer } from 'snowball-stemmers';
import { boundedMemo } from '../memo.ts';
import { foldText } from './products.ts';

/**
 * Spanish text as the search index stores it and as queries are read: words without accents, stemmed with the
 * Snowball Spanish stemmer, without the words that say nothing about a problem. The same function feeds both
 * engines (SQLite FTS5, PostgreSQL's `simple` configuration), so "facturas electronicas" and "facturación
 * electrónica" meet at "factur electron" on both.
 */
const stemmer = newStemmer('spanish');
/** Stems remembered (stemOf): more than the vocabulary of a help desk's mail, a few hundred kB at most. */
const STEMS_KEPT = 5000;

const STOPWORDS = new Set(
  `a al algo algun alguna algunas alguno algunos ante antes aqui asi aun bien buen buenas
buenos cada como con contra cual cuando de del desde donde dos el ella ellas ellos en entre era es esa esas ese eso
esos esta estaba estamos estan estar este esto estos fue fueron gracias ha hace hacer han hasta hay hola la las le
les lo los mas me mi mis mucho muy nada ni no nos nosotros o otra otro para pero poco por porque pues que quedo
saludos se sea segun ser si sin sobre solo son su sus tambien te tenemos tengo tiene tienen todo todos tu un una uno
unos usted ustedes y ya yo favor por_favor dia dias tarde tardes ayuda ayudar urgente caso error problema problemas
sale salen`.split(/\s+/),
);

/**
 * The stemmer expects written Spanish, accents included; customers often leave them out. The suffixes whose
 * stemming depends on the accent ("-ción", "-sión") get it back before stemming, so "facturacion" stems like
 * "facturación".
 */
function reaccent(word: string): string {
  return word.replace(/([cs])ion$/, '$1ión');
}

/**
 * A folded word's stem, remembered: the stemmer works through its suffix rules for every word, and support mail says
 * the same few thousand words again and again (a new case's question, each solved case indexed). Bounded: the oldest
 * goes first.
 */
const stemOf = boundedMemo(
  STEMS_KEPT,
  (word: string) => word,
  (word: string) => foldText(stemmer.stem(reaccent(word))),
);

export function stemWord(word: string): string {
  return stemOf(foldText(word));
}

/** The stems of a text, in order (repeats kept: they weigh in the ranking). */
export function searchTerms(text: string): string[] {
  return [...stemsOf(text)];
}

function* stemsOf(text: string): Generator<string> {
  for (const w of foldText(text).match(/[a-z0-9]+/g) ?? []) {
    if (STOPWORDS.has(w) || (w.length < 3 && !/\d/.test(w))) continue;
    const stem = stemWord(w);
    if (stem.length >= 2) yield stem;
  }
}

/** What is stored in the index's text column. */
export const indexText = (text: string): string => searchTerms(text).join(' ');

/** What a new case asks, for the suggestions of its first mails: its subject and the start of its first message. */
export function caseQuestion(subject: string, body: string): string {
  return `${subject}\n${body.slice(0, 2000)}`;
}

/**
 * The distinct stems of a query, at most `max` (a pasted mail should not become a 500-term query): the first ones,
 * so the words after them are not stemmed at all.
 */
export function queryTerms(text: string, max = 24): string[] {
  const distinct = new Set<string>();
  for (const stem of stemsOf(text)) {
    if (distinct.size === max) break;
    distinct.add(stem);
  }
  return [...distinct];
}
