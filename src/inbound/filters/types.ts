import type { Config } from '../../config.ts';
import type { Command } from '../../tickets/commands.ts';
import type { OpenCaseCounts } from '../../tickets/organization.ts';
import type { Priority, TicketView } from '../../tickets/types.ts';
import type { InboundMail, MailSource } from '../mail.ts';

/** Why a mail was not made into (or onto) a case. Stable strings: they are stored and shown. */
export type ReasonCode =
  | 'duplicate'
  | 'own_loop'
  | 'auto_reply'
  | 'bounce'
  | 'mailing_list'
  | 'too_large'
  | 'unparseable'
  | 'parse_timeout'
  | 'no_sender'
  | 'empty'
  | 'attachment_too_large'
  | 'storage_failed'
  | 'internal_error'
  | (string & {});

/**
 * Automatic mail. For bounces: `hard` = permanent failure (RFC 3463 class 5), `addressGone` = the address itself
 * is dead (X.1.x addressing codes or "user unknown"), `status` = the enhanced status code when one was given.
 */
export type Automated = {
  kind: 'auto_reply' | 'bounce' | 'mailing_list';
  why: string;
  hard?: boolean;
  addressGone?: boolean;
  status?: string;
};

/** What the filters have established so far. Each filter returns a patch; the pipeline merges, never mutates. */
export interface Facts {
  /** Same Message-ID as an earlier mail but different content: kept, and flagged. */
  messageIdReused?: boolean;
  automated?: Automated;
  sender?: { address: string; name: string; role: 'customer' | 'consultant'; organization: string };
  /** The mail reached the locked-out fallback address: an access case, priority alta. */
  access?: { priority: Priority; category: string; via: string };
  /** The case this mail continues, when one matched and the sender may write on it. For a customer, `proof` says
   * how the mail proved it comes from its From on this case (customer-proof.ts); absent: unproven, kept as text
   * only. */
  target?: {
    ticketId: number;
    number: number;
    via: 'tag' | 'header' | 'embedded';
    reopen: boolean;
    proof?: 'signed_reply' | 'dmarc';
  };
  /** Opening a new case that names another one (a stranger's reply, or a case closed long ago). */
  related?: { number: number; reason: 'stranger' | 'closed_long_ago' };
  visibleText?: string;
  /** Kept back instead of opening a case: over the organization's open-case limit, or not entitled (issue 5). */
  hold?: { reason: 'over_limit' | 'not_entitled'; detail: string };
  /** For a consultant's mail: the cases whose notification to this consultant it answers (our signed
   * Message-ID), and a trusted Authentication-Results pass (`dmarc`/`dkim`/`spf`), see consultant-auth.ts. */
  consultantAuth?: { signedCases: number[]; authenticatedBy?: string };
  /** For a bounce: the addresses it says failed, and those of them it proves we sent the returned mail to
   * (bounce-proof.ts). Only `proven` addresses may be stopped. */
  returned?: { claimed: string[]; proven: string[] };
  /** For a customer's mail: the cases whose mail to this address it answers (our signed Message-ID), and whether a
   * trusted Authentication-Results says DMARC passed for the From domain, see customer-proof.ts. */
  customerProof?: { signedCases: number[]; dmarc: boolean };
  /** Commands at the top of a consultant's reply, see commands.ts. */
  commands?: CommandFacts;
}

/** The commands filter's findings (commands.ts). */
export interface CommandFacts {
  commands: Command[];
  /** Lines not understood, each with why: any of them means no command acts and nothing is relayed. */
  errors: string[];
  internal: boolean;
}

/** The sender's organization as the lifecycle rules see it (loaded by inbound/organization-context.ts). */
export interface OrganizationFacts {
  key: string;
  entitled: boolean;
  limit?: number;
  /** Its open cases; and of them, those whose opening mail proved its sender (customer-proof.ts). */
  open: OpenCaseCounts;
}

export interface FilterContext {
  /** Present when lifecycle rules are configured (entitlement, open-case limit). */
  organization?: OrganizationFacts;
  config: Config;
  now: number;
  source: MailSource;
  /** Ledger rows of earlier mail with the same Message-ID or the same content hash. */
  previous: ReadonlyArray<{ contentHash: string; messageId?: string; outcome: string; sourceKey: string }>;
  /** The case named by the subject tag, if it exists. */
  taggedTicket?: TicketView;
  /** Cases owning one of the In-Reply-To/References ids. */
  referencedTickets: readonly TicketView[];
  /** Cases named by our Message-IDs or tags inside embedded (bounced) messages. */
  embeddedTickets: readonly TicketView[];
  /** Mail we sent whose Message-ID a bounce returns, to an address the bounce says failed (sentMailByIds). */
  returnedMail: ReadonlyArray<{ messageId: string; recipient: string; ticketId?: number }>;
}

export type Verdict =
  | { kind: 'continue'; facts?: Partial<Facts> }
  | {
      kind: 'stop';
      outcome: 'ignored' | 'rejected' | 'tempfail';
      reason: ReasonCode;
      detail?: string;
      facts?: Partial<Facts>;
    };

export interface Filter {
  readonly name: string;
  run(mail: InboundMail, ctx: FilterContext, facts: Readonly<Facts>): Verdict;
}

export const next = (facts?: Partial<Facts>): Verdict => ({ kind: 'continue', facts });
