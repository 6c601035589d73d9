import { describe, expect, it } from 'vitest';
import { senderIdentity } from '../../../../src/inbound/filters/sender-identity.ts';
import { ctxOf, mailOf } from './support.ts';

describe('sender-identity filter', () => {
  it.each([
    [
      'a customer of a company domain',
      { From: 'Juan <Juan@Cliente.co>' },
      { address: 'juan@cliente.co', role: 'customer', organization: 'cliente.co' },
    ],
    [
      'a consultant from CONSULTANTS',
      { From: 'Ana <ana@mesa.test>' },
      { address: 'ana@mesa.test', role: 'consultant' },
    ],
    [
      'a customer on a public mail service: the organization is the address',
      { From: 'pepa@gmail.com' },
      { role: 'customer', organization: 'pepa@gmail.com' },
    ],
    [
      'no From but Reply-To',
      { From: '', 'Reply-To': 'luis@cliente.co' },
      { address: 'luis@cliente.co', organization: 'cliente.co' },
    ],
  ])('%s', async (_n, headers, expected) => {
    const v = senderIdentity.run(await mailOf(headers), ctxOf(), {});
    expect(v.kind).toBe('continue');
    expect(v.facts?.sender).toMatchObject(expected);
  });

  it("refuses (quarantines) a person's mail with no sender at all", async () => {
    expect(senderIdentity.run(await mailOf({ From: '' }), ctxOf(), {})).toMatchObject({
      kind: 'stop',
      outcome: 'rejected',
      reason: 'no_sender',
    });
  });

  it('lets automatic mail without a sender go on to be routed', async () => {
    expect(
      senderIdentity.run(await mailOf({ From: '' }), ctxOf(), { automated: { kind: 'bounce', why: 'x' } }).kind,
    ).toBe('continue');
  });
});
