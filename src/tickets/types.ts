/** The case as the domain sees it. Times are epoch milliseconds. */

export const PRIORITIES = ['alta', 'media', 'baja'] as const;
export type Priority = (typeof PRIORITIES)[number];

export const STAGES = ['abierto', 'analisis', 'solucion', 'pruebas', 'cerrado', 'reabierto'] as const;
export type Stage = (typeof STAGES)[number];

export const WAITING_ON = ['soporte', 'cliente', 'tercero'] as const;
export type WaitingOn = (typeof WAITING_ON)[number];

export type Role = 'customer' | 'consultant' | 'system';

export interface Ticket {
  id: number;
  number: number;
  subject: string;
  requester: string;
  requesterName?: string;
  organization: string;
  category?: string;
  product?: string;
  /** The module of `product` and its version, when known (src/tickets/products.ts). */
  productModule?: string;
  productVersion?: string;
  priority: Priority;
  stage: Stage;
  waitingOn: WaitingOn;
  assignee?: string;
  relatedNumber?: number;
  relatedReason?: string;
  rating?: string;
  ratingComment?: string;
  createdAt: number;
  updatedAt: number;
  firstResponseAt?: number;
  closedAt?: number;
}

/**
 * How a person came to be on a case. A follow-up's From header proves nothing, so a Cc counts as proven only when
 * the mail that named it was itself proven: the opening mail (the case is that mail's own), a reply to a mail we
 * sent that address (our signed Message-ID), DMARC passing for the From domain at our receiving server, or a
 * verified consultant's command. `unproven`: rows from before this was recorded, added by a follow-up nobody checked.
 */
export const PARTICIPANT_ORIGINS = [
  'requester',
  'opening',
  'signed_reply',
  'dmarc',
  'consultant',
  'assigned',
  'unproven',
] as const;
export type ParticipantOrigin = (typeof PARTICIPANT_ORIGINS)[number];
/** The origins whose addresses "Perdí mi enlace" may mail: every one but `unproven`. */
export const PROVEN_ORIGINS: readonly ParticipantOrigin[] = PARTICIPANT_ORIGINS.filter((o) => o !== 'unproven');

export interface Participant {
  address: string;
  role: 'requester' | 'cc' | 'consultant';
  /** Absent when read by a query that does not need it (the follow-up filter's case views). */
  addedBy?: ParticipantOrigin;
}

/** What the follow-up filter needs to know about a candidate case. */
export interface TicketView extends Ticket {
  participants: Participant[];
}
