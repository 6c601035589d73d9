import type { HeldRequest } from '../db/repos/lifecycle.ts';
import type { Light } from '../tickets/sla.ts';
import type { Ticket } from '../tickets/types.ts';

/**
 * Events the lifecycle rules cause, delivered to the same Notifiers as every CaseEvent (they are part of that
 * union), inside the transaction that records them, so the mail they cause is written with them (outbox).
 * The last two are about no single case: `ticket` is absent.
 */
export type LifecycleEvent =
  /** The case has waited on the customer and will close at `closeAt` unless they answer: warn the requester. */
  | { type: 'autoclose_warning'; ticket: Ticket; closeAt: number; waitingSince: number; at: number }
  /** The SLA light of the case changed (e.g. to red): consultants may be told. */
  | { type: 'sla_changed'; ticket: Ticket; from?: Light; to: Light; dueAt?: number }
  /** A mail that would have opened a case was held (over the limit / not entitled): politely refuse it. */
  | {
      type: 'request_held';
      ticket?: undefined;
      held: HeldRequest;
      to: string;
      /** The requester's name as their mail gave it, for the greeting. */
      toName?: string;
      subject: string;
      reason: HeldRequest['reason'];
      openCases: readonly Ticket[];
      limit?: number;
    }
  /** A consultant's morning digest: their open cases and the unassigned ones, most urgent first. */
  | { type: 'digest'; ticket?: undefined; to: string; date: string; cases: readonly DigestEntry[]; at: number };

export interface DigestEntry {
  ticket: Ticket;
  light: Light;
  dueAt?: number;
  assigned: boolean;
}
