import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { threadIndex } from '../../../src/outbound/headers.ts';

/**
 * Outlook's Thread-Index (MS-OXOMSG §2.2.1.3), worked out in doubles: byte for byte what the BigInt form of the
 * specification gives (this reference), for dates from 1970 to 2400 and for answers minutes to decades after the case
 * opened. The last byte is random.
 */
const SECRET = 'secreto-de-prueba-0123456789abcdef0123456789';
const OFFSET = 11_644_473_600_000n;

function reference(secret: string, caseNumber: number, createdAt: number, now: number): Buffer {
  const filetime = (ms: number) => (BigInt(Math.floor(ms)) + OFFSET) * 10_000n;
  const head = Buffer.alloc(22);
  const ft = filetime(createdAt);
  head[0] = 0x01;
  head.writeUIntBE(Number((ft >> 16n) & 0xff_ffff_ffffn), 1, 5);
  crypto.createHmac('sha256', secret).update(`mesa-thread-v1|${caseNumber}`).digest().subarray(0, 16).copy(head, 6);
  const child = Buffer.alloc(4);
  child.writeUInt32BE(Number(((filetime(Math.max(now, createdAt)) - ft) >> 18n) & 0x7fff_ffffn), 0);
  return Buffer.concat([head, child]);
}

describe('Thread-Index', () => {
  it("is the specification's bytes for any date and delay, with one random byte at the end", () => {
    const dates = [
      0,
      1,
      4095,
      4096,
      65_535,
      Date.UTC(2026, 11, 4, 12, 30, 15, 123),
      Date.UTC(2057, 0, 1),
      Date.UTC(2400, 5, 1),
      1_700_000_000_000.7,
    ];
    for (let i = 0; i < 2000; i++) dates.push(Math.floor(Math.random() * Date.UTC(2400, 0, 1)));
    const delays = [
      0,
      1,
      999,
      16_383,
      16_384,
      60_000,
      86_400_000,
      400 * 86_400_000,
      10 * 365 * 86_400_000,
      50 * 365 * 86_400_000,
    ];
    let compared = 0;
    for (const [n, created] of dates.entries()) {
      for (const delay of [...delays, Math.floor(Math.random() * 5 * 365 * 86_400_000)]) {
        const got = Buffer.from(threadIndex(SECRET, n + 1, created, created + delay), 'base64');
        expect(got.length).toBe(27);
        expect(got.subarray(0, 26).toString('hex')).toBe(
          reference(SECRET, n + 1, created, created + delay).toString('hex'),
        );
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(20_000);
  });

  it('counts an answer stamped before the case as no delay', () => {
    const created = Date.UTC(2026, 11, 4);
    const got = Buffer.from(threadIndex(SECRET, 3, created, created - 60_000), 'base64');
    expect(got.readUInt32BE(22)).toBe(0);
    expect(got.subarray(0, 26).toString('hex')).toBe(reference(SECRET, 3, created, created - 60_000).toString('hex'));
  });
});
