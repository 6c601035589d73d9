import { searchable, searchDocsEach, type SearchHit, type SearchQuery } from '../db/repos/search.ts';
import { padded, type Queryable } from '../db/sql.ts';
import { memoKey, UnitOfWork } from '../db/unit-of-work.ts';

/**
 * The suggestions of a batch's new cases, looked for together: the questions (search stems) of the mails parsed
 * ahead of their turn (runBatch hands them over, expectQuestions), and what the search found for each, read in one
 * statement by the first new case that needed its own (searchedAhead). The later new cases answer from memory. A
 * change of the index in the unit forgets what was read (forgetSuggestionsAhead); what another process commits after
 * the read is not seen, as it would not be by a read a moment earlier.
 */
interface SuggestionsAhead {
  /** The questions of the mails ready after the one whose turn it is, in order. */
  later: ReadonlyArray<readonly string[]>;
  /** By search shape and question: each query's hits, read for any case (see searchedAhead). */
  found: Map<string, SearchHit[][]>;
}
const SUGGESTIONS_AHEAD = memoKey<SuggestionsAhead | undefined>(
  'knowledge.suggestionsAhead',
  () => undefined,
  (parent) => parent && { later: parent.later, found: new Map(parent.found) },
);

/** Questions read ahead in one statement: in powers of two (the list padded with its last one), a few texts for all. */
const AHEAD_MOST = 64;

/** Before a mail's turn in the batch (not the careful rerun): the questions of the mails ready after it. */
export function expectQuestions(uow: UnitOfWork, later: ReadonlyArray<readonly string[]>): void {
  const ahead = uow.memo(SUGGESTIONS_AHEAD);
  uow.setMemo(SUGGESTIONS_AHEAD, { later, found: ahead?.found ?? new Map() });
}

/**
 * The index changed in this unit (a case closed, an article published): what was read ahead may be stale, so the
 * later new cases search again, as they would have without the read-ahead. Undone with the unit's writes.
 */
export function forgetSuggestionsAhead(db: Queryable): void {
  if (!(db instanceof UnitOfWork)) return;
  const ahead = db.memo(SUGGESTIONS_AHEAD);
  if (ahead?.found.size) db.setMemo(SUGGESTIONS_AHEAD, { later: ahead.later, found: new Map() });
}

/**
 * The hits of `queriesOf(terms)`, from what the unit read ahead, or read now together with the questions of the
 * mails ready after this one (one statement for all); undefined when there is nothing to read ahead (no batch, no
 * other question, as on SQLite where the parse seldom gets ahead): the caller's own search is as good. `shape` names
 * what `queriesOf` asks (the same for every question), for the memory's key. The queries must ask for any case: the
 * new case each answer is for does not exist yet when it is read ahead (the caller leaves it out of the hits).
 */
export async function searchedAhead(
  db: Queryable,
  shape: string,
  terms: readonly string[],
  queriesOf: (terms: readonly string[]) => SearchQuery[],
): Promise<SearchHit[][] | undefined> {
  if (!(db instanceof UnitOfWork) || !searchable(terms)) return undefined;
  const ahead = db.memo(SUGGESTIONS_AHEAD);
  if (!ahead) return undefined;
  const key = (t: readonly string[]) => `${shape}\n${t.join(' ')}`;
  const known = ahead.found.get(key(terms));
  if (known) return known;
  const lists = new Map([[key(terms), terms]]);
  for (const t of ahead.later) {
    if (lists.size === AHEAD_MOST) break;
    if (searchable(t) && !ahead.found.has(key(t)) && !lists.has(key(t))) lists.set(key(t), t);
  }
  if (lists.size === 1) return undefined;
  const questions = padded([...lists.values()]);
  const each = questions.map(queriesOf);
  const hits = await searchDocsEach(db, each.flat());
  let at = 0;
  for (const [i, t] of questions.entries()) {
    ahead.found.set(key(t), hits.slice(at, at + each[i].length));
    at += each[i].length;
  }
  return ahead.found.get(key(terms));
}
