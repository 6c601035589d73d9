import { organizationOf } from '../../tickets/organization.ts';
import type { Filter } from './types.ts';
import { next } from './types.ts';

/**
 * Who wrote: the From address (or, without one, Reply-To / Sender). A consultant is someone listed in
 * CONSULTANTS; whether the mail really comes from them is for the authentication filter to say.
 */
export const senderIdentity: Filter = {
  name: 'sender-identity',
  run(mail, ctx, facts) {
    const who = mail.from ?? mail.replyTo[0];
    if (!who) {
      if (facts.automated) return next();
      return { kind: 'stop', outcome: 'rejected', reason: 'no_sender', detail: 'sin From ni Reply-To' };
    }
    const role = ctx.config.consultants.includes(who.address) ? 'consultant' : 'customer';
    return next({ sender: { address: who.address, name: who.name, role, organization: organizationOf(who.address) } });
  },
};
