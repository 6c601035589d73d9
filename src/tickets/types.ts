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

export interface Participant {
  address: string;
  role: 'requester' | 'cc' | 'consultant';
}

/** What the follow-up filter needs to know about a candidate case. */
export interface TicketView extends Ticket {
  participants: Participant[];
}
