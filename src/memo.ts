/**
 * `make`, remembered by `keyOf` of its arguments, for what is asked again and again with the same input: an HMAC of a
 * recipient or of a case number (once per mail enqueued), a prepared SQL statement (src/db/knex.ts). Bounded: past
 * `limit` entries the oldest goes first.
 */
export function boundedMemo<A extends unknown[], V>(limit: number, keyOf: (...args: A) => string, make: (...args: A) => V): (...args: A) => V {
  const kept = new Map<string, V>();
  return (...args: A) => {
    const key = keyOf(...args);
    let value = kept.get(key);
    if (value === undefined) {
      value = make(...args);
      if (kept.size >= limit) kept.delete(kept.keys().next().value!);
      kept.set(key, value);
    }
    return value;
  };
}
