import type { Filter } from './types.ts';
import { next } from './types.ts';

/**
 * Entitlement: when organizations are listed (MESA_CONFIG_FILE `organizations`), only they may open cases.
 * Mail from anyone else is not dropped: it is held (kept whole, listed by `mesa held`) and the sender gets a
 * polite refusal. Follow-ups on existing cases, consultants and automatic mail are not this filter's business.
 */
export const entitlement: Filter = {
  name: 'entitlement',
  run(_mail, ctx, facts) {
    const org = ctx.organization;
    if (!org || org.entitled || facts.target || facts.automated || facts.hold || facts.sender?.role !== 'customer')
      return next();
    return next({
      hold: { reason: 'not_entitled', detail: `la organización ${org.key} no está habilitada para radicar casos` },
    });
  },
};
