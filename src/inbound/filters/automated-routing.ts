import type { Filter } from './types.ts';
import { next } from './types.ts';

/**
 * Where automatic mail goes: onto the case it is about, as a system note (never opening or reopening a case,
 * never answered); without a case, nowhere, with the reason recorded in the ledger.
 */
export const automatedRouting: Filter = {
  name: 'automated-routing',
  run(_mail, _ctx, facts) {
    const a = facts.automated;
    if (!a || facts.target) return next();
    return { kind: 'stop', outcome: 'ignored', reason: a.kind, detail: a.why };
  },
};
