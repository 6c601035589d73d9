/**
 * `make`, remembered by `keyOf` of its arguments, for what is asked again and again with the same input: an HMAC of a
 * recipient or of a case number (once per mail enqueued), the SQL text of an INSERT (src/db/sql-text.ts). Bounded: past
 * `limit` entries the oldest goes first.
 */
export function boundedMemo<A extends unknown[], V>(
  limit: number,
  keyOf: (...args: A) => string,
  make: (...args: A) => V,
): (...args: A) => V {
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

/**
 * Values that may be a little old (a case's SLA light, a list's filter choices), kept for `ttlMs` after they were
 * made, at most `limit` of them (the oldest goes first). `get` makes a value when there is none or it is too old.
 */
export function expiringCache<V>(
  limit: number,
  ttlMs: number,
  clock: () => number = Date.now,
): (key: string, make: () => Promise<V>) => Promise<V> {
  const kept = new Map<string, { at: number; value: Promise<V> }>();
  return (key, make) => {
    const now = clock();
    const hit = kept.get(key);
    if (hit && now - hit.at < ttlMs) return hit.value;
    kept.delete(key);
    const value = make();
    // A failure is not remembered: the next caller tries again.
    value.catch(() => kept.get(key)?.value === value && kept.delete(key));
    if (kept.size >= limit) kept.delete(kept.keys().next().value!);
    kept.set(key, { at: now, value });
    return value;
  };
}
