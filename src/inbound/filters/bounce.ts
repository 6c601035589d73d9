import { header } from '../mail.ts';
import type { InboundMail } from '../mail.ts';
import type { Automated, Filter } from './types.ts';
import { next } from './types.ts';
import { isMailSystemLocalPart } from '../../mail/unread-addresses.ts';

/**
 * Bounces and delivery reports: RFC 3464 `multipart/report; report-type=delivery-status`, RFC 5965 ARF feedback
 * reports, the null reverse-path `<>` (RFC 5321 §4.5.5), MAILER-DAEMON/postmaster senders (also written
 * `MAILER-DAEMON <>` with no address at all, as DragonFly and qmail do, which leaves the parsed From empty), and
 * the subjects of servers that send neither (old Exchange, qmail, Spanish-localised Exchange).
 *
 * `hard` follows the RFC 3463 class of the Status code: 5.x.x is a permanent failure, 4.x.x a transient one.
 * `addressGone` is narrower, for the outbound side deciding to stop mailing an address: only the addressing
 * subjects of RFC 3463 §3.2 (X.1.1 bad mailbox, X.1.2 bad system, X.1.3 bad syntax, X.1.6 moved, X.1.10 null MX)
 * or the servers' "user unknown" wording say the address itself is dead; a full mailbox or a policy refusal
 * (5.2.2, 5.7.1) is permanent for that message but not for the address.
 */
const BOUNCE_SUBJECT = new RegExp(
  `(${[
    'undeliver(ed|able)',
    'delivery (status|failure|has failed|problem|notification)',
    'mail delivery (failed|failure|system|subsystem)',
    'returned mail',
    'failure notice',
    'non[- ]?delivery',
    'could not be delivered',
    'delivery report',
    'no se (pudo|puede) entregar',
    'no entregad[oa]',
    'error de entrega',
    'devoluci[oó]n de correo',
    'mensaje no entregado',
    'notificaci[oó]n de estado de (la )?entrega',
    'correo devuelto',
    'unzustellbar',
    'non remis',
    'warning: could not send',
    'mail system error',
    'nondeliverable',
  ].join('|')})`,
  'i',
);

/** Mail-server wording for a mailbox or domain that does not exist (English and Spanish). */
const ADDRESS_GONE = new RegExp(
  `(${[
    'user unknown',
    'unknown user',
    'user not found',
    'host unknown',
    'no such (user|mailbox|address|recipient|domain)',
    'does not exist',
    "doesn'?t exist",
    'recipient (address )?rejected: (user unknown|undeliverable)',
    'invalid (recipient|mailbox|address)',
    'mailbox (not found|unavailable)',
    'address not found',
    'host (or domain name )?not found',
    'unrouteable address',
    'no existe',
    'usuario desconocido',
    'dirección no v[aá]lida',
    'no se encontr[oó] (el|la) (destinatario|dirección)',
  ].join('|')})`,
  'i',
);

export function classifyBounce(mail: InboundMail): Automated | undefined {
  const fromHeader = header(mail, 'from') ?? '';
  const local = (mail.from?.address ?? '').split('@')[0] ?? '';
  const status = statusCode(mail);
  const facts = (why: string, fallbackHard: boolean): Automated => {
    // RFC 3464 §2.3.3: a report whose recipients are all "Action: delayed" is a warning, the server still tries.
    const onlyDelayed =
      /^[ \t]*Action:\s*delayed/im.test(mail.embeddedHeaders) &&
      !/^[ \t]*Action:\s*failed/im.test(mail.embeddedHeaders);
    const hard = onlyDelayed ? false : status ? status.startsWith('5') : fallbackHard;
    // A specific status decides (5.2.x mailbox, 5.7.x policy: the address lives); only an unspecific one
    // (X.0.x, X.5.x) or none leaves it to the server's wording.
    const addressGone = status
      ? /^5\.1\.(1|2|3|6|10)$/.test(status) || (/^5\.[05]\./.test(status) && ADDRESS_GONE.test(diagnostic(mail)))
      : ADDRESS_GONE.test(diagnostic(mail));
    return { kind: 'bounce', why: `${why}${status ? ` ${status}` : ''}`, hard, addressGone, status };
  };
  if (mail.contentType === 'multipart/report' && mail.reportType === 'feedback-report') {
    return { kind: 'bounce', why: 'ARF feedback report', hard: false, addressGone: false };
  }
  if (mail.contentType === 'multipart/report' && mail.reportType === 'disposition-notification') {
    return { kind: 'auto_reply', why: 'acuse de lectura (MDN)' };
  }
  if (
    mail.contentType === 'multipart/report' &&
    (mail.reportType === 'delivery-status' ||
      mail.reportType === 'global-delivery-status' ||
      mail.reportType === undefined)
  ) {
    // A DSN without a Status is a relay notice ("delayed", "relayed"): soft unless it says otherwise.
    return facts('DSN', false);
  }
  const subjectSaysBounce = BOUNCE_SUBJECT.test(mail.subject);
  // `From: MAILER-DAEMON <>` parses to no address; read the raw header. `From: <>` is the null sender itself.
  const daemonName =
    /^\s*"?(mailer[-_ ]?daemon|mail delivery (subsystem|system)|postmaster)\b/i.test(fromHeader) ||
    /^\s*<>\s*$/.test(fromHeader);
  if (isMailSystemLocalPart(local) || daemonName) {
    // A postmaster writing a normal message (no report, no bounce subject, no status) is still automatic mail.
    return facts(`remitente ${local || fromHeader.trim().slice(0, 40) || '<>'}`, subjectSaysBounce || Boolean(status));
  }
  if (mail.returnPath === '' && (subjectSaysBounce || status)) return facts('Return-Path vacío', true);
  if (
    subjectSaysBounce &&
    (/^(mail delivery|postmaster|mailer|mail system|delivery)/i.test(mail.from?.name ?? '') ||
      mail.attachments.some(
        (a) =>
          a.contentType === 'message/rfc822' ||
          a.contentType === 'text/rfc822-headers' ||
          a.contentType === 'message/delivery-status',
      ))
  ) {
    return facts('asunto de rebote', true);
  }
  if (header(mail, 'x-failed-recipients')) return facts('X-Failed-Recipients', true);
  return undefined;
}

/** The Status of the report (RFC 3464 §2.3.4), else the first enhanced code in the text (non-DSN bounces). */
function statusCode(mail: InboundMail): string | undefined {
  const m =
    /^[ \t]*Status:\s*([245]\.\d{1,3}\.\d{1,3})/im.exec(mail.embeddedHeaders) ??
    /(?:^|[\s(#])([45]\.\d{1,3}\.\d{1,3})\b/.exec(mail.text.slice(0, 8000));
  return m?.[1];
}

function diagnostic(mail: InboundMail): string {
  return `${mail.embeddedHeaders.slice(0, 8000)}\n${mail.text.slice(0, 8000)}`;
}

export const bounce: Filter = {
  name: 'bounce',
  run(mail) {
    const verdict = classifyBounce(mail);
    return verdict ? next({ automated: verdict }) : next();
  },
};
