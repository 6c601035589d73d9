import { header } from '../mail.ts';
import type { Filter } from './types.ts';
import { next } from './types.ts';

/** Mail sent through a list (RFC 2369/2919 headers, `Precedence: list`) is not a person asking for help. */
export const mailingList: Filter = {
  name: 'mailing-list',
  run(mail, _ctx, facts) {
    if (facts.automated) return next();
    const listId = header(mail, 'list-id');
    if (listId) return next({ automated: { kind: 'mailing_list', why: `List-Id ${listId.slice(0, 60)}` } });
    for (const h of ['list-unsubscribe', 'list-post', 'x-mailing-list', 'mailing-list']) {
      if (header(mail, h) !== undefined) return next({ automated: { kind: 'mailing_list', why: h } });
    }
    if (/\blist\b/i.test(header(mail, 'precedence') ?? ''))
      return next({ automated: { kind: 'mailing_list', why: 'Precedence: list' } });
    return next();
  },
};
