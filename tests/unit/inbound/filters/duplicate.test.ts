import { describe, expect, it } from 'vitest';
import { duplicate } from '../../../../src/inbound/filters/duplicate.ts';
import { ctxOf, mailOf } from './support.ts';

describe('duplicate filter', () => {
  it.each([
    [
      'the same content was accepted before',
      'accepted',
      true,
      { kind: 'stop', outcome: 'ignored', reason: 'duplicate' },
    ],
    ['the same content was ignored before', 'ignored', true, { kind: 'stop', outcome: 'ignored', reason: 'duplicate' }],
    ['the same content was quarantined before (a replay must go on)', 'rejected', true, { kind: 'continue' }],
    [
      'only the Message-ID was seen, with other content',
      'accepted',
      false,
      { kind: 'continue', facts: { messageIdReused: true } },
    ],
  ])('%s', async (_n, outcome, sameHash, expected) => {
    const m = await mailOf({});
    const ctx = ctxOf({
      previous: [
        {
          contentHash: sameHash ? m.contentHash : 'otro',
          messageId: m.messageId,
          outcome,
          sourceKey: 'imap:support:INBOX:1:5',
        },
      ],
    });
    expect(duplicate.run(m, ctx, {})).toMatchObject(expected);
  });

  it('passes a mail never seen', async () => {
    expect(duplicate.run(await mailOf({}), ctxOf(), {})).toEqual({ kind: 'continue', facts: undefined });
  });

  it('sees two deliveries of one message (different Received/Delivered-To) as the same content', async () => {
    const a = await mailOf({ Received: 'from a by mx1', 'Delivered-To': 'soporte@mesa.test' });
    const b = await mailOf({ Received: 'from a by mx2', 'Delivered-To': 'acceso@mesa.test' });
    expect(a.contentHash).toBe(b.contentHash);
  });
});
