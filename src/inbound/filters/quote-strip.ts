import type { Filter } from './types.ts';
import { next } from './types.ts';

/** The text a person wrote, without the quoted history or signature (see ../quotes.ts; stripped with the parse). */
export const quoteStrip: Filter = {
  name: 'quote-strip',
  run(mail) {
    return next({ visibleText: mail.visibleText });
  },
};
