import { visibleTextOf } from '../quotes.ts';
import type { Filter } from './types.ts';
import { next } from './types.ts';

/** The text a person wrote, without the quoted history or signature (see ../quotes.ts). */
export const quoteStrip: Filter = {
  name: 'quote-strip',
  run(mail) {
    return next({ visibleText: visibleTextOf(mail) });
  },
};
