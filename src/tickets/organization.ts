/**
 * A case's organization is the requester's mail domain, except on public mail services, where the domain says
 * nothing about who someone works for: there the organization is the address itself, so that two strangers on
 * gmail.com are never "the same organization" (follow-up binding relies on this). The list is data, kept short
 * and local because the npm list of free providers downloads its data at install time, which this build forbids.
 */
const PUBLIC_MAIL_DOMAINS = new Set([
  'gmail.com',
  'googlemail.com',
  'hotmail.com',
  'hotmail.es',
  'hotmail.com.ar',
  'hotmail.com.mx',
  'hotmail.co',
  'outlook.com',
  'outlook.es',
  'outlook.com.ar',
  'outlook.cl',
  'live.com',
  'live.com.mx',
  'live.com.ar',
  'msn.com',
  'yahoo.com',
  'yahoo.es',
  'yahoo.com.mx',
  'yahoo.com.ar',
  'yahoo.com.co',
  'ymail.com',
  'icloud.com',
  'me.com',
  'mac.com',
  'aol.com',
  'protonmail.com',
  'proton.me',
  'pm.me',
  'gmx.com',
  'gmx.net',
  'mail.com',
  'zoho.com',
  'yandex.com',
  'tutanota.com',
  'terra.com.br',
  'uol.com.br',
  'bol.com.br',
  'prodigy.net.mx',
  'une.net.co',
  'etb.net.co',
  'emcali.net.co',
  'fibertel.com.ar',
  'speedy.com.ar',
  'movistar.es',
  'telefonica.net',
]);

export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

export function isPublicMailDomain(domain: string): boolean {
  return PUBLIC_MAIL_DOMAINS.has(domain.toLowerCase());
}

export function organizationOf(address: string): string {
  const domain = domainOf(address);
  return isPublicMailDomain(domain) ? address.toLowerCase() : domain;
}

/** An organization's open cases: all of them, and those opened by mail that proved its sender. */
export interface OpenCaseCounts {
  open: number;
  proven: number;
}

/**
 * The open cases the open-case limit holds a new request to. Anyone can write `From: someone@the-organization`: for
 * a sender who proved who they are, only the cases opened the same way count, so that forged mail cannot fill the
 * limit for them; for one who proved nothing, all of them.
 */
export function openCasesCounted(counts: OpenCaseCounts, senderProven: boolean): number {
  return senderProven ? counts.proven : counts.open;
}
