/**
 * Addresses no person reads, by their local part: a mail system's own senders (RFC 5321 §4.5.1 `postmaster`, the
 * bounce senders of sendmail, Postfix, Exchange, MDaemon and Gmail's «Mail Delivery Subsystem») and the addresses
 * that say so (`no-reply`, `donotreply`). Both directions need them: inbound reads mail from a mail system as
 * automatic; outbound never writes to one, and a consultant's /cc never adds one.
 */
const MAIL_SYSTEM = new RegExp(
  `^(${[
    'mailer[-_]?daemon',
    'post_?master',
    'mail[-_]?daemon',
    'mdaemon',
    String.raw`mail\.?delivery`,
    'mail[-_]?delivery[-_]?(subsystem|system)?',
    'bounces?',
    'nobody',
  ].join('|')})$`,
  'i',
);

const NO_REPLY = /^(no[-_.]?reply|do[-_.]?not[-_.]?reply)$/i;

/** The local part of a mail system's own sender (its bounces and notices), which is not a person. */
export function isMailSystemLocalPart(local: string): boolean {
  return MAIL_SYSTEM.test(local);
}

/** Whether mail to `address` reaches no one: a mail system's sender or a no-reply address. */
export function isUnreadAddress(address: string): boolean {
  const local = address.slice(0, address.lastIndexOf('@'));
  return MAIL_SYSTEM.test(local) || NO_REPLY.test(local);
}
