import type { IncomingMessage } from 'node:http';

/**
 * The connection of a request answered before its body was read whole (a refused upload). The rest of the body is
 * not read: the request stream is paused (the HTTP parser then stops reading the socket once a chunk is buffered),
 * and taken as consumed, so that node does not read and drop it all to reuse the connection. The connection is
 * destroyed after LINGER_MS, not at once: a reset while the client is still sending can make it drop the answer
 * unread (the "lingering close" of RFC 9112 §9.6); meanwhile its writes just wait on a full TCP window.
 */
const LINGER_MS = 1000;

/** Called as the answer is about to be sent (status-page.ts's onSend). */
export function closeAfterAnswer(req: IncomingMessage): void {
  const socket = req.socket;
  if (req.complete || socket.destroyed) return;
  // Whatever was reading the body (the multipart parser) stops.
  req.unpipe();
  req.pause();
  // One read of what is buffered marks the body as taken (node's IncomingMessage then does not dump the rest).
  req.read();
  // Destroying an unfinished request destroys its connection.
  setTimeout(() => req.destroy(), LINGER_MS).unref();
}
