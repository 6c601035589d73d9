/** Waits `ms`, or until `signal` aborts, or until `subscribe`'s event fires. */
export function sleep(ms: number, signal?: AbortSignal, subscribe?: (fn: () => void) => () => void): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const unsubscribe = subscribe?.(done);
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      unsubscribe?.();
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
