import { afterEach, describe, expect, it } from 'vitest';
import { fileCase, linkPath, portalHarness, type PortalHarness } from './support.ts';

/**
 * A link's "last used" (links.last_used_at) is kept to the hour: a view writes it when it is unset or an hour old,
 * not on every view (a write per view made every reader wait for the database's one writer). The page is served
 * either way, and a revoked link still is not.
 */
let h: PortalHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const HOUR = 3_600_000;

describe('link use', () => {
  it('records the first view and then at most one view an hour, and still refuses a revoked link', async () => {
    let now = Date.now();
    h = await portalHarness({}, { clock: () => now });
    const n = await fileCase(h.app, {
      from: 'Laura Gómez <laura@cliente.test>',
      subject: 'Error al ingresar',
      text: 'No me deja entrar.',
    });
    const path = await linkPath(h.app, n, 'laura@cliente.test');
    const lastUsed = async () => {
      const row = await h!.app.db('links').where({ recipient: 'laura@cliente.test' }).first('last_used_at', 'id');
      return { id: Number(row.id), at: row.last_used_at == null ? undefined : Number(row.last_used_at) };
    };
    expect((await lastUsed()).at).toBeUndefined();
    expect((await h.server.inject({ method: 'GET', url: path })).statusCode).toBe(200);
    const first = now;
    expect((await lastUsed()).at).toBe(first);
    now += HOUR - 1000;
    expect((await h.server.inject({ method: 'GET', url: path })).statusCode).toBe(200);
    expect((await lastUsed()).at).toBe(first);
    now += 1000;
    expect((await h.server.inject({ method: 'GET', url: path })).statusCode).toBe(200);
    expect((await lastUsed()).at).toBe(now);
    await h.app.links.revokeLink(h.app.db, (await lastUsed()).id, now);
    expect((await h.server.inject({ method: 'GET', url: path })).statusCode).toBe(410);
  });
});
