import type { NewMessage } from '../db/repos/tickets.ts';
import type { UnitOfWork } from '../db/unit-of-work.ts';
import type { ParticipantOrigin, Priority, Ticket } from '../tickets/types.ts';
import type { LifecycleEvent } from './lifecycle-events.ts';
import type { MailRejected } from './mail-rejected.ts';
import type { CappedNotice } from './participants.ts';

/** What happens to cases, as the notifiers hear it (src/services/cases.ts emits, src/outbound reacts). */
export type CaseEvent =
  /** `message`: what was just written as row `messageRowId`, so that a notifier need not read it back. */
  /** `capped`: addresses of the mail left off the case by the participant caps (the consultants are told). */
  | {
      type: 'case_opened';
      ticket: Ticket;
      messageRowId: number;
      message?: Omit<NewMessage, 'ticketId'>;
      capped?: CappedNotice;
      /** What the case asks, as search stems (OpenCaseInput.questionTerms), when the opener had them. */
      questionTerms?: readonly string[];
    }
  | {
      type: 'message_added';
      ticket: Ticket;
      messageRowId: number;
      role: 'customer' | 'consultant';
      internal: boolean;
      message?: Omit<NewMessage, 'ticketId'>;
      capped?: CappedNotice;
    }
  | { type: 'system_note_added'; ticket: Ticket; messageRowId: number; noteKind: string; bounce?: BounceInfo }
  | { type: 'stage_changed'; ticket: Ticket; from: string; to: string; actor: string; reason?: string }
  /** A consultant's mail could not act (unverified sender, command not understood): tell that consultant. */
  | {
      type: 'consultant_feedback';
      ticket: Ticket;
      to: string;
      kind: 'unverified' | 'commands';
      items: string[];
      messageRowId: number;
    }
  | { type: 'assigned'; ticket: Ticket; assignee: string; actor: string }
  /** A consultant's `/lista`: mail them their link to the consultants' list. */
  | { type: 'list_requested'; ticket: Ticket; to: string; at: number }
  /** Auto-close warnings, SLA light changes, held requests, digests: see lifecycle-events.ts. */
  | LifecycleEvent
  /** A mail refused and quarantined by the ingest: see mail-rejected.ts. */
  | MailRejected;

/**
 * A bounce of our own mail: `hard` (RFC 3463 class 5), `addressGone` (the address itself does not exist, not only
 * this message refused: see classifyBounce), the addresses it names as failed AND proves we sent the returned mail
 * to (`recipients`, see src/inbound/filters/bounce-proof.ts), and those it names without that proof (`unproven`:
 * recorded, never acted on).
 */
export type BounceInfo = {
  hard: boolean;
  addressGone: boolean;
  recipients: string[];
  unproven: string[];
  status?: string;
};

export interface Notifier {
  onCaseEvent(uow: UnitOfWork, event: CaseEvent): Promise<void>;
}

export interface OpenCaseInput {
  subject: string;
  requester: string;
  requesterName?: string;
  organization: string;
  priority: Priority;
  category?: string;
  mailbox?: string;
  related?: { number: number; reason: string };
  cc: string[];
  message: Omit<NewMessage, 'ticketId'>;
  threadIds: string[];
  /** The opening mail proved its sender (src/inbound/filters/customer-proof.ts): what the open-case limit counts for
   * a sender who proves who they are. */
  proven: boolean;
  /** The search stems of caseQuestion(subject, message.bodyText) (src/tickets/search-text.ts), when the caller has
   * them already (the ingest's parse thread works them out): the notices' suggestions then need no stemming. */
  questionTerms?: readonly string[];
}

export interface AddMessageInput {
  message: Omit<NewMessage, 'ticketId'>;
  /** Added to the case only with `ccAddedBy`: a customer's follow-up whose origin was proven (how, recorded). */
  cc: string[];
  ccAddedBy?: ParticipantOrigin;
  threadIds: string[];
  reopen: boolean;
}
