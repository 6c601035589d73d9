import { FILTERS } from './filters/index.ts';
import type { Facts, Filter, FilterContext, ReasonCode } from './filters/types.ts';
import type { InboundMail } from './mail.ts';

export type PipelineResult =
  | { kind: 'effect'; facts: Readonly<Facts>; trail: string[] }
  | { kind: 'stop'; outcome: 'ignored' | 'rejected' | 'tempfail'; reason: ReasonCode; detail?: string; facts: Readonly<Facts>; trail: string[] };

/** Runs the filters in their declared order, folding each verdict's facts into a new frozen object. */
export function runFilters(mail: InboundMail, ctx: FilterContext, filters: readonly Filter[] = FILTERS): PipelineResult {
  let facts: Readonly<Facts> = Object.freeze({});
  const trail: string[] = [];
  for (const f of filters) {
    const v = f.run(mail, ctx, facts);
    if (v.facts) facts = Object.freeze({ ...facts, ...v.facts });
    if (v.kind === 'stop') {
      trail.push(`${f.name}:${v.outcome}`);
      return { kind: 'stop', outcome: v.outcome, reason: v.reason, detail: v.detail, facts, trail };
    }
    trail.push(f.name);
  }
  return { kind: 'effect', facts, trail };
}

export type Effect =
  | { kind: 'new_case' }
  | { kind: 'follow_up'; ticketId: number; number: number; reopen: boolean }
  | { kind: 'system_note'; ticketId: number; number: number }
  /** Would open a case, but is kept back (open-case limit, entitlement): stored, and the sender told. */
  | { kind: 'held'; reason: 'over_limit' | 'not_entitled'; detail: string };

/** What the facts amount to. Pure. */
export function decide(facts: Readonly<Facts>): Effect {
  if (facts.target && facts.automated) return { kind: 'system_note', ticketId: facts.target.ticketId, number: facts.target.number };
  if (facts.target) return { kind: 'follow_up', ticketId: facts.target.ticketId, number: facts.target.number, reopen: facts.target.reopen };
  if (facts.hold) return { kind: 'held', reason: facts.hold.reason, detail: facts.hold.detail };
  return { kind: 'new_case' };
}
