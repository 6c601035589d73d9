/**
 * A mail the inbound side refused and quarantined (too large, unparseable…). Delivered to the same Notifiers as
 * every CaseEvent (it is part of that union), inside the quarantine transaction, so that the polite refusal the
 * outbound side writes commits with the quarantine row or not at all. It is about no case: `ticket` is absent.
 */
export interface MailRejected {
  type: 'mail_rejected';
  ticket?: undefined;
  /** The ingest's reason code: stable strings, stored and shown (e.g. `too_large`). */
  reason: string;
  detail: string;
  from?: string;
  subject?: string;
  messageId?: string;
  size: number;
  quarantineId: number;
  now: number;
}
