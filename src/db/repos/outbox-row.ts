import type { NewOutbox } from './outbox-rows.ts';

export type OutboxState = 'pending' | 'sending' | 'sent' | 'dead' | 'held';

/** A row of the outbox as the dispatcher and `mesa outbox` read it: what enqueue wrote (NewOutbox), and its life
 * since. */
export interface OutboxRow extends Pick<
  NewOutbox,
  'idempotencyKey' | 'ticketId' | 'kind' | 'recipient' | 'automatic' | 'messageId' | 'mail' | 'heldReason'
> {
  id: number;
  subject: string;
  state: OutboxState;
  attempts: number;
  nextAttemptAt: number;
  leaseUntil?: number;
  claimedBy?: string;
  lastError?: string;
  createdAt: number;
  sentAt?: number;
}

const n = (v: unknown) => (v === null || v === undefined ? undefined : Number(v));

export function toOutboxRow(r: any): OutboxRow {
  return {
    id: Number(r.id),
    idempotencyKey: r.idempotency_key,
    ticketId: n(r.ticket_id),
    kind: r.kind,
    recipient: r.recipient,
    automatic: Boolean(r.automatic),
    messageId: r.message_id,
    subject: r.subject,
    mail: JSON.parse(r.mail_json),
    state: r.state,
    attempts: Number(r.attempts),
    nextAttemptAt: Number(r.next_attempt_at),
    leaseUntil: n(r.lease_until),
    claimedBy: r.claimed_by ?? undefined,
    lastError: r.last_error ?? undefined,
    heldReason: r.held_reason ?? undefined,
    createdAt: Number(r.created_at),
    sentAt: n(r.sent_at),
  };
}
