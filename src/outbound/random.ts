import crypto from 'node:crypto';

/**
 * Random bytes for the ids of outgoing mail (the Message-ID nonce, the Thread-Index child block), taken from a pool
 * that is refilled 4 KB at a time, as Node's own randomUUID() does. Each crypto.randomBytes() call goes into OpenSSL
 * on its own: about 20 µs per call on the bench machine while ingesting, with two or more calls per mail enqueued
 * (≈ 2 % of the ingest's main thread, `npm run bench`; tests/bench/README.md, eighth delivery). The bytes come from
 * the same CSPRNG, and each byte is handed out once.
 */
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let used = 0;

export function pooledRandomBytes(n: number): Buffer {
  if (n > POOL_BYTES) return crypto.randomBytes(n);
  if (used + n > pool.length) {
    pool = crypto.randomBytes(POOL_BYTES);
    used = 0;
  }
  // A copy: the caller may keep it, and the pool's bytes must never be seen twice.
  const out = Buffer.from(pool.subarray(used, used + n));
  used += n;
  return out;
}
