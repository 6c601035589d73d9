import { describe, expect, it } from 'vitest';
import { loopToken } from '../../../../src/mail/loop-token.ts';
import { ownLoop } from '../../../../src/inbound/filters/own-loop.ts';
import { config, ctxOf, mailOf } from './support.ts';

describe('own-loop filter', () => {
  it.each([
    ['our X-Mesa-Loop marker', { 'X-Mesa-Loop': loopToken(config) }, true],
    ['a forged marker (not from our SECRET_KEY)', { 'X-Mesa-Loop': 'abc123' }, false],
    ['From the support address', { From: 'Soporte <soporte@mesa.test>' }, true],
    ['From the fallback address', { From: 'acceso@mesa.test' }, true],
    ['a customer', {}, false],
  ])('%s', async (_n, headers, loops) => {
    const v = ownLoop.run(await mailOf(headers), ctxOf(), {});
    if (loops) expect(v).toMatchObject({ kind: 'stop', outcome: 'ignored', reason: 'own_loop' });
    else expect(v.kind).toBe('continue');
  });
});
