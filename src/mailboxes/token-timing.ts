import type { CredentialRow } from '../db/repos/mailbox-tokens.ts';

/** When a mailbox's token is refreshed and until when it is handed out (./mailbox-tokens.ts). */

export const REFRESH_AT = 0.75;
/** A token this close to its expiry is refreshed before being handed out (a request takes time to reach the server). */
const MIN_REMAINING_MS = 30_000;

/** How long before expiry a token stops being handed out: MIN_REMAINING_MS, or less for a short-lived token (half of
 * the time between its planned refresh and its expiry). */
export function margin(row: CredentialRow): number {
  const life = (row.expiresAt ?? 0) - (row.issuedAt ?? 0);
  return Math.min(MIN_REMAINING_MS, (life * (1 - REFRESH_AT)) / 2);
}
