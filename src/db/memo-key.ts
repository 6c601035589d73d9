/**
 * A typed key of a unit's memo. `init` makes the value a unit starts with. With `inherit`, a child unit starts from
 * a copy of its parent's value (made by `inherit`; in a scope, the parent's value itself) and hands its own back
 * when it succeeds: state about the whole transaction. Without, a child starts afresh: state about this unit's own
 * work (one mail's).
 */
export interface MemoKey<T> {
  readonly name: string;
  readonly init: () => T;
  readonly inherit?: (parent: T) => T;
}

export function memoKey<T>(name: string, init: () => T, inherit?: (parent: T) => T): MemoKey<T> {
  return { name, init, inherit };
}
