/** Polls `check` until it returns a truthy value or the deadline passes (then throws with `what`). */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T> | T,
  timeoutMs = 20_000,
  everyMs = 50,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`tiempo agotado esperando: ${what}${last ? ` (último error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * What a test server (tests/support/oauth-server.ts, graph-server.ts) lets a test wait for: a condition on the
 * requests it has seen, checked again each time one arrives (`notify`), not by polling.
 */
export function requestWatch<R>(server: string, requests: R[]) {
  const waiters = new Set<() => void>();
  return {
    notify: () => [...waiters].forEach((w) => w()),
    waitFor(what: string, pred: (requests: R[]) => boolean, timeoutMs = 30_000): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!pred(requests)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(`tiempo agotado esperando en el servidor ${server}: ${what} (${requests.length} solicitudes)`),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}
