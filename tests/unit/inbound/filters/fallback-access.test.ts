import { describe, expect, it } from 'vitest';
import { fallbackAccess } from '../../../../src/inbound/filters/fallback-access.ts';
import type { MailSource } from '../../../../src/inbound/mail.ts';
import { ctxOf, mailOf } from './support.ts';

const imap = (account: 'support' | 'fallback'): MailSource => ({
  kind: 'imap',
  account,
  folder: 'INBOX',
  uidvalidity: 1,
  uid: 1,
});

describe('fallback-access filter', () => {
  it.each([
    ['To: the fallback address', { To: 'Acceso <ACCESO@mesa.test>' }, imap('support')],
    ['Cc: the fallback address', { Cc: 'acceso@mesa.test' }, imap('support')],
    [
      'Delivered-To: the fallback address (shared mailbox)',
      { To: 'otro@cliente.co', 'Delivered-To': 'acceso@mesa.test' },
      imap('support'),
    ],
    [
      'X-Original-To: the fallback address',
      { To: 'lista@cliente.co', 'X-Original-To': 'acceso@mesa.test' },
      imap('support'),
    ],
    ['read from the fallback account itself', { To: 'alguien@cliente.co' }, imap('fallback')],
  ])('%s → priority alta, category acceso', async (_n, headers, source) => {
    const v = fallbackAccess.run(await mailOf(headers), ctxOf({ source }), {});
    expect(v.facts?.access).toMatchObject({ priority: 'alta', category: 'acceso' });
  });

  it('leaves mail to the support address alone', async () => {
    expect(
      fallbackAccess.run(await mailOf({ Cc: 'jefe@cliente.co' }), ctxOf({ source: imap('support') }), {}).facts,
    ).toBeUndefined();
  });
});
