import crypto from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { threadIndex } from '../../../src/outbound/headers.ts';
import { boundedMemo } from '../../../src/memo.ts';
import { makeMessageId, parseOurMessageId, recipientTag, sentTo } from '../../../src/mail/message-id.ts';
import { pooledRandomBytes } from '../../../src/mail/random.ts';

const SECRET = 'secreto-de-prueba-0123456789abcdef0123456789';

describe('ids of outgoing mail: remembered derivations and pooled randomness', () => {
  it('hands out each pooled random byte once, across refills, and copies it', () => {
    const seen = new Set<string>();
    // 600 × 8 bytes crosses the 4 KB pool at least once.
    for (let i = 0; i < 600; i++) {
      const b = pooledRandomBytes(8);
      expect(b).toHaveLength(8);
      seen.add(b.toString('hex'));
    }
    // 64-bit values: a repeat among 600 would mean bytes handed out twice.
    expect(seen.size).toBe(600);
    expect(pooledRandomBytes(5000)).toHaveLength(5000);
  });

  it('hands out pooled 64-bit nonces and single bytes from a fresh pool, never a byte twice, across refills', async () => {
    vi.resetModules();
    const fresh = await import('../../../src/mail/random.ts');
    const values: bigint[] = [];
    // The very first call finds the pool empty: it is refilled before it is read. Then the three ways in, interleaved:
    // 8 + 1 + 8 bytes a turn, 25 KB in all, so the pool is refilled several times at odd offsets.
    for (let i = 0; i < 1500; i++) {
      const nonce = fresh.pooledRandomBase36();
      expect(nonce).toMatch(/^[0-9a-z]{1,13}$/);
      values.push([...nonce].reduce((n, c) => n * 36n + BigInt(parseInt(c, 36)), 0n));
      const byte = fresh.pooledRandomByte();
      expect(Number.isInteger(byte) && byte >= 0 && byte <= 255).toBe(true);
      values.push(fresh.pooledRandomBytes(8).readBigUInt64BE());
    }
    // 64-bit values: a repeat among 3000 would mean bytes handed out twice.
    expect(new Set(values).size).toBe(values.length);
  });

  it('remembers a derivation by key and forgets the oldest past its limit', () => {
    let calls = 0;
    const double = boundedMemo(
      2,
      (n: number) => String(n),
      (n: number) => (calls++, n * 2),
    );
    expect([double(1), double(1), double(2)]).toEqual([2, 2, 4]);
    expect(calls).toBe(2);
    double(3); // 1 goes out
    expect(double(2)).toBe(4);
    expect(calls).toBe(3);
    expect(double(1)).toBe(2);
    expect(calls).toBe(4);
  });

  it('gives the same recipient tag as the HMAC it stands for, per secret and whatever the case of the address', () => {
    const expected = (secret: string, address: string) =>
      BigInt(
        `0x${crypto.createHmac('sha256', secret).update(`mesa-rcpt-v1|${address}`).digest().subarray(0, 8).toString('hex')}`,
      )
        .toString(36)
        .padStart(12, '0')
        .slice(-12);
    expect(recipientTag(SECRET, 'Carla@Cliente.com.co')).toBe(expected(SECRET, 'carla@cliente.com.co'));
    expect(recipientTag(SECRET, 'carla@cliente.com.co')).toBe(expected(SECRET, 'carla@cliente.com.co'));
    expect(recipientTag('otro-secreto-0123456789abcdef0123456789', 'carla@cliente.com.co')).toBe(
      expected('otro-secreto-0123456789abcdef0123456789', 'carla@cliente.com.co'),
    );
    expect(recipientTag('otro-secreto-0123456789abcdef0123456789', 'carla@cliente.com.co')).not.toBe(
      recipientTag(SECRET, 'carla@cliente.com.co'),
    );
  });

  it('makes signed Message-IDs with a fresh nonce each time, bound to case and recipient', () => {
    const ids = Array.from({ length: 50 }, () => makeMessageId(SECRET, 'mesa.test', 42, 'carla@cliente.com.co'));
    expect(new Set(ids).size).toBe(50);
    for (const id of ids) {
      const ours = parseOurMessageId(SECRET, id)!;
      expect(ours.number).toBe(42);
      expect(sentTo(SECRET, ours, 'CARLA@cliente.com.co')).toBe(true);
      expect(sentTo(SECRET, ours, 'otra@cliente.com.co')).toBe(false);
    }
    expect(parseOurMessageId('otro-secreto-0123456789abcdef0123456789', ids[0])).toBeUndefined();
  });

  it('shares the 22-byte Thread-Index header within a case, derived from the case number and the secret', () => {
    const header = (secret: string, n: number) =>
      Buffer.from(threadIndex(secret, n, Date.UTC(2026, 10, 1), Date.UTC(2026, 10, 2)), 'base64');
    const a = header(SECRET, 7);
    const b = header(SECRET, 7);
    expect(a).toHaveLength(27);
    expect(a.subarray(0, 22)).toEqual(b.subarray(0, 22));
    expect(a.subarray(6, 22)).toEqual(
      crypto.createHmac('sha256', SECRET).update('mesa-thread-v1|7').digest().subarray(0, 16),
    );
    expect(header(SECRET, 8).subarray(6, 22)).not.toEqual(a.subarray(6, 22));
    expect(header('otro-secreto-0123456789abcdef0123456789', 7).subarray(6, 22)).not.toEqual(a.subarray(6, 22));
  });
});
