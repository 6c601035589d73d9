import { failedRecipients, returnedMessageIds } from '../../mail/bounces.ts';
import type { Filter } from './types.ts';
import { next } from './types.ts';

/**
 * What a bounce proves. Its report says which addresses failed, but anyone can write a report naming anyone
 * (a consultant, a customer, an address on no case), so that is only a claim. An address is proven when the
 * returned header of the report (RFC 3464's text/rfc822-headers or message/rfc822 part) carries the Message-ID of
 * a mail we sent to that very address: each of our mails has its own Message-ID per recipient, which only that
 * recipient's servers and we have seen. Only a proven address may have its automatic mail stopped.
 */
export const bounceProof: Filter = {
  name: 'bounce-proof',
  run(mail, ctx, facts) {
    if (facts.automated?.kind !== 'bounce') return next();
    const claimed = failedRecipients(mail);
    const returned = new Set(returnedMessageIds(mail));
    const proven = claimed.filter((a) => ctx.returnedMail.some((m) => m.recipient === a && returned.has(m.messageId)));
    return next({ returned: { claimed, proven } });
  },
};
