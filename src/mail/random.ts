import crypto from 'node:crypto';

/**
 * Random bytes for the ids of outgoing mail (the Message-ID nonce, the Thread-Index child block), taken from a pool
 * that is refilled 4 KB at a time, as Node's own randomUUID() does. Each crypto.randomBytes() call goes into OpenSSL
 * on its own, and every mail enqueued asks for a few bytes two or more times: one call per refill instead
 * (docs/performance.md, «Decisiones medidas»). The bytes come from the same CSPRNG, and each byte is handed out once.
 */
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let used = 0;

export function pooledRandomBytes(n: number): Buffer {
  if (n > POOL_BYTES) return crypto.randomBytes(n);
  const at = take(n); // first: it may refill `pool`
  // A copy: the caller may keep it, and the pool's bytes must never be seen twice.
  return Buffer.from(pool.subarray(at, at + n));
}

/** One random byte from the pool, as a number: no Buffer made for it. */
export function pooledRandomByte(): number {
  const at = take(1); // first: it may refill `pool`
  return pool[at];
}

/** A random 64-bit integer from the pool, in base 36 (the Message-ID nonce): no Buffer made for it. */
export function pooledRandomBase36(): string {
  const at = take(8); // first: it may refill `pool`
  return pool.readBigUInt64BE(at).toString(36);
}

/** Where `n` fresh bytes start in the pool, refilled when fewer are left. */
function take(n: number): number {
  if (used + n > pool.length) {
    pool = crypto.randomBytes(POOL_BYTES);
    used = 0;
  }
  const at = used;
  used += n;
  return at;
}
