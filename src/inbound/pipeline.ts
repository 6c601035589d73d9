import { FILTERS } from './filters/index.ts';
import type { Command } from '../tickets/commands.ts';
import type { Facts, Filter, FilterContext, ReasonCode } from './filters/types.ts';
import type { InboundMail } from './mail.ts';

export type PipelineResult =
  | { kind: 'effect'; facts: Readonly<Facts>; trail: string[] }
  | {
      kind: 'stop';
      outcome: 'ignored' | 'rejected' | 'tempfail';
      reason: ReasonCode;
      detail?: string;
      facts: Readonly<Facts>;
      trail: string[];
    };

/** Runs the filters in their declared order, folding each verdict's facts into a new frozen object. */
export function runFilters(
  mail: InboundMail,
  ctx: FilterContext,
  filters: readonly Filter[] = FILTERS,
): PipelineResult {
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

/**
 * What a consultant's reply on a case does: relayed to the customer only when verified and not internal;
 * commands act only when verified and all understood; otherwise the consultant is told why (`feedback`).
 */
export interface ConsultantPlan {
  verified: boolean;
  internal: boolean;
  commands: Command[];
  feedback?: { kind: 'unverified' | 'commands'; items: string[] };
}

export type Effect =
  | { kind: 'new_case' }
  | { kind: 'follow_up'; ticketId: number; number: number; reopen: boolean; consultant?: ConsultantPlan }
  | { kind: 'system_note'; ticketId: number; number: number }
  /** Would open a case, but is kept back (open-case limit, entitlement): stored, and the sender told. */
  | { kind: 'held'; reason: 'over_limit' | 'not_entitled'; detail: string };

/** What the facts amount to. Pure. */
export function decide(facts: Readonly<Facts>): Effect {
  if (facts.target && facts.automated)
    return { kind: 'system_note', ticketId: facts.target.ticketId, number: facts.target.number };
  if (facts.target) {
    const base = {
      kind: 'follow_up' as const,
      ticketId: facts.target.ticketId,
      number: facts.target.number,
      reopen: facts.target.reopen,
    };
    return facts.sender?.role === 'consultant'
      ? { ...base, consultant: consultantPlan(facts, facts.target.number) }
      : base;
  }
  if (facts.hold) return { kind: 'held', reason: facts.hold.reason, detail: facts.hold.detail };
  return { kind: 'new_case' };
}

function consultantPlan(facts: Readonly<Facts>, number: number): ConsultantPlan {
  const auth = facts.consultantAuth;
  // A signed reference counts only for the case it was sent about: a real notification of case 3 does not
  // vouch for a mail tagged [Caso #5].
  const verified = Boolean(auth && (auth.authenticatedBy || auth.signedCases.includes(number)));
  if (!verified) return { verified: false, internal: true, commands: [], feedback: { kind: 'unverified', items: [] } };
  const c = facts.commands;
  if (c?.errors.length)
    return { verified: true, internal: true, commands: [], feedback: { kind: 'commands', items: c.errors } };
  return {
    verified: true,
    internal: Boolean(c?.internal) || !(facts.visibleText ?? '').trim(),
    commands: c?.commands ?? [],
  };
}
