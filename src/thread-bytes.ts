/**
 * Bytes handed between Mesa's threads (the parse thread, src/inbound/parse-thread.ts; the compose thread,
 * src/outbound/compose-thread.ts) by transfer rather than by copy: a transfer moves a whole ArrayBuffer, so what is
 * transferred must own one.
 */

/** The caller's own bytes when they are a whole ArrayBuffer; a view into a larger one (a small Buffer may share
 * Node's pool with other data) is copied once into one of its own, so that transferring it takes nothing else along. */
export function ownBytes(bytes: Buffer): Buffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer)
    return bytes;
  const own = Buffer.allocUnsafeSlow(bytes.byteLength);
  bytes.copy(own);
  return own;
}

/** A Buffer over bytes that came from another thread (a structured clone or a transfer gives a Uint8Array). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
