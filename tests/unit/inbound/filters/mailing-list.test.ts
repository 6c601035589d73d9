import { describe, expect, it } from 'vitest';
import { mailingList } from '../../../../src/inbound/filters/mailing-list.ts';
import { ctxOf, mailOf } from './support.ts';

describe('mailing-list filter', () => {
  it.each([
    ['List-Id (RFC 2919)', { 'List-Id': 'Usuarios <usuarios.lists.cliente.co>' }],
    ['List-Unsubscribe (RFC 2369)', { 'List-Unsubscribe': '<mailto:leave@lists.cliente.co>' }],
    ['List-Post', { 'List-Post': '<mailto:usuarios@lists.cliente.co>' }],
    ['Precedence: list', { Precedence: 'list' }],
  ])('recognises %s', async (_n, headers) => {
    const v = mailingList.run(await mailOf(headers), ctxOf(), {});
    expect(v.facts?.automated?.kind).toBe('mailing_list');
  });

  it("passes a person's mail", async () => {
    expect(mailingList.run(await mailOf({}), ctxOf(), {}).facts).toBeUndefined();
  });

  it('does not override an earlier automatic verdict', async () => {
    const v = mailingList.run(await mailOf({ 'List-Id': '<x.y>' }), ctxOf(), {
      automated: { kind: 'auto_reply', why: 'x' },
    });
    expect(v.facts).toBeUndefined();
  });
});
