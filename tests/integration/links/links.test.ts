import { describe, expect, it } from 'vitest';
import { onStatements } from '../../../src/db/storage.ts';
import type { App } from '../../../src/app.ts';
import { linkMac, makeToken, parseToken, tokenHash } from '../../../src/links/tokens.ts';
import { linkCaseForEachTest, LINK_NOW, tokenOf, type LinkCase } from '../../support/link-case.ts';

/** Magic links: format, signing, hashed storage, expiry, revocation and rotation. */
const DAY = 86_400_000;
const NOW = LINK_NOW;
let app: App;
let ticketId: number;
let issue: LinkCase['issue'];

linkCaseForEachTest((c) => ({ app, ticketId, issue } = c));

describe('magic links', () => {
  it('issues one signed link per case and recipient that verifies to both, and stores only its hash', async () => {
    const url = await issue();
    expect(url.startsWith('http://127.0.0.1:8080/caso/7.1.')).toBe(true);
    const token = tokenOf(url);
    expect(token).not.toContain('carla');
    expect(await issue()).toBe(url); // the same link in every mail
    expect(await issue('CARLA@empresa.com')).toBe(url);
    expect(await app.links.verifyToken(app.db, token, NOW + DAY)).toMatchObject({
      ok: true,
      ticketId,
      number: 7,
      recipient: 'carla@empresa.com',
    });
    const rows = await app.db('links').select('*');
    expect(rows.length).toBe(1);
    expect(rows[0].token_hash).toBe(tokenHash(token));
    expect(JSON.stringify(rows)).not.toContain(token);
    const other = tokenOf(await issue('jefe@empresa.com'));
    expect(other).not.toBe(token);
    expect(await app.links.verifyToken(app.db, other, NOW)).toMatchObject({ ok: true, recipient: 'jefe@empresa.com' });
  });

  it('refuses malformed, tampered and foreign-key tokens', async () => {
    const token = tokenOf(await issue());
    const p = parseToken(token)!;
    expect(await app.links.verifyToken(app.db, 'hola', NOW)).toEqual({ ok: false, reason: 'malformed' });
    expect(await app.links.verifyToken(app.db, `${token}x`, NOW)).toEqual({ ok: false, reason: 'malformed' });
    const flipped = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    expect(await app.links.verifyToken(app.db, flipped, NOW)).toEqual({ ok: false, reason: 'forged' });
    // Another case number with the same MAC, a later expiry, or a MAC made with another key: all forged.
    expect(await app.links.verifyToken(app.db, token.replace(/^7\./, '8.'), NOW)).toEqual({
      ok: false,
      reason: 'forged',
    });
    const later = makeToken(app.config.secretKey, {
      number: 7,
      recipient: 'carla@empresa.com',
      generation: 1,
      expiresAt: p.expiresAt + 365 * DAY,
    });
    expect(await app.links.verifyToken(app.db, later, NOW)).toEqual({ ok: false, reason: 'forged' });
    const otherKey = makeToken('otra-clave-0123456789abcdef0123456789', {
      number: 7,
      recipient: 'carla@empresa.com',
      generation: 1,
      expiresAt: p.expiresAt,
    });
    expect(await app.links.verifyToken(app.db, otherKey, NOW)).toEqual({ ok: false, reason: 'forged' });
    // A leaked database row (the hash) gives no token: the MAC needs SECRET_KEY.
    expect(
      linkMac(app.config.secretKey, {
        number: 7,
        recipient: 'carla@empresa.com',
        generation: 1,
        expiresAt: p.expiresAt,
      }),
    ).toBe(p.mac);
  });

  it('expires after LINK_TTL_DAYS and a later mail carries a fresh generation', async () => {
    const first = tokenOf(await issue());
    expect(await app.links.verifyToken(app.db, first, NOW + 89 * DAY)).toMatchObject({ ok: true });
    expect(await app.links.verifyToken(app.db, first, NOW + 91 * DAY)).toEqual({ ok: false, reason: 'expired' });
    // Near the end of its life a link is not put in new mail: a new generation is.
    const second = tokenOf(await issue('carla@empresa.com', NOW + 85 * DAY));
    expect(second).not.toBe(first);
    expect(parseToken(second)!.generation).toBe(2);
    expect(await app.links.verifyToken(app.db, second, NOW + 91 * DAY)).toMatchObject({ ok: true });
  });

  it('revokes one link or every link of a case; the next issue rotates', async () => {
    const carla = tokenOf(await issue());
    const jefe = tokenOf(await issue('jefe@empresa.com'));
    const v = await app.links.verifyToken(app.db, carla, NOW);
    expect(v.ok && (await app.links.revokeLink(app.db, v.linkId, NOW, 'a pedido'))).toBe(true);
    expect(await app.links.verifyToken(app.db, carla, NOW)).toEqual({ ok: false, reason: 'revoked' });
    expect(await app.links.verifyToken(app.db, jefe, NOW)).toMatchObject({ ok: true });
    expect(await app.links.revokeCaseLinks(app.db, ticketId, NOW, 'reabierto')).toBe(1);
    expect(await app.links.verifyToken(app.db, jefe, NOW)).toEqual({ ok: false, reason: 'revoked' });
    // The rotation reads the recipient's generations once and inserts the next one.
    const sql: string[] = [];
    const onQuery = (q: { sql: string }) => {
      if (/\blinks\b/.test(q.sql)) sql.push(q.sql);
    };
    const stopListening = onStatements(app.db, onQuery);
    const rotated = tokenOf(await issue());
    stopListening();
    expect(sql.map((q) => q.split(' ')[0].toLowerCase())).toEqual(['select', 'insert']);
    expect(parseToken(rotated)!.generation).toBe(2);
    expect(rotated).not.toBe(carla);
    expect(await app.links.verifyToken(app.db, rotated, NOW)).toMatchObject({
      ok: true,
      recipient: 'carla@empresa.com',
    });
  });
});
