import type { Priority, Stage, Ticket, WaitingOn } from '../../tickets/types.ts';

/** A case as the `tickets` table holds it. */

const num = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : Number(v));
export const str = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));

export function toTicket(r: any): Ticket {
  return {
    id: Number(r.id),
    number: Number(r.number),
    subject: r.subject,
    requester: r.requester,
    requesterName: str(r.requester_name),
    organization: r.organization,
    category: str(r.category),
    product: str(r.product),
    productModule: str(r.product_module),
    productVersion: str(r.product_version),
    priority: r.priority as Priority,
    stage: r.stage as Stage,
    waitingOn: r.waiting_on as WaitingOn,
    assignee: str(r.assignee),
    relatedNumber: num(r.related_number),
    relatedReason: str(r.related_reason),
    rating: str(r.rating),
    ratingComment: str(r.rating_comment),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    firstResponseAt: num(r.first_response_at),
    closedAt: num(r.closed_at),
  };
}
