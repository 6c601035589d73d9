import { describe, expect, it } from 'vitest';
import { GraphError, isStaleDelta, retryAfterMs } from '../../../src/mailboxes/graph-client.ts';

describe('Graph client helpers', () => {
  it('reads Retry-After as seconds or as an HTTP date, and caps it', () => {
    const now = Date.parse('2026-12-05T10:00:00Z');
    expect(retryAfterMs('7', now)).toBe(7000);
    expect(retryAfterMs('Sat, 05 Dec 2026 10:00:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs('Sat, 05 Dec 2026 09:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('86400', now)).toBe(5 * 60_000);
    expect(retryAfterMs(null, now)).toBeUndefined();
    expect(retryAfterMs('pronto', now)).toBeUndefined();
  });

  it('knows a forgotten delta token and maps statuses to the catalogue', () => {
    expect(isStaleDelta(new GraphError(410, 'SyncStateNotFound', ''))).toBe(true);
    expect(isStaleDelta(new GraphError(400, 'resyncRequired', ''))).toBe(true);
    expect(isStaleDelta(new GraphError(404, 'ErrorItemNotFound', ''))).toBe(false);
    expect(new GraphError(401, 'InvalidAuthenticationToken', '').code).toBe('GRAPH_AUTH_FAILED');
    expect(new GraphError(429, 'ApplicationThrottled', '', 1000).code).toBe('GRAPH_UNAVAILABLE');
    expect(new GraphError(400, 'ErrorInvalidRecipients', '').code).toBe('GRAPH_REFUSED');
  });
});
