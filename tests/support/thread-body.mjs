/**
 * For thread bodies that misbehave on purpose (tests/support/misbehaving-*-worker.mjs): the real body registers its
 * 'message' listener on `port` after this, and `wrap(listener)` decides what each request does before (or instead of)
 * reaching it.
 */
export function interceptRequests(port, wrap) {
  const on = port.on.bind(port);
  port.on = (event, listener) => on(event, event === 'message' ? wrap(listener) : listener);
}
