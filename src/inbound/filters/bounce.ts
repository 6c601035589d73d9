import { header } from '../mail.ts';
import type { InboundMail } from '../mail.ts';
import type { Automated, Filter } from './types.ts';
import { next } from './types.ts';

/**
 * Bounces and delivery reports: RFC 3464 `multipart/report; report-type=delivery-status`, the null
 * reverse-path `<>`, MAILER-DAEMON/postmaster senders, and the subjects of servers that send neither (old
 * Exchange, qmail). A 5.x.x status in the report means a hard bounce (RFC 3463); the outbound side uses that to
 * stop mailing the address.
 */
const BOUNCE_SUBJECT =
  /(undeliver(ed|able)|delivery (status notification|failure|has failed)|mail delivery (failed|failure|system)|returned mail|failure notice|non[- ]?delivery|no se (pudo|puede) entregar|no entregado|error de entrega|devoluci[oó]n de correo|mensaje no entregado|notificaci[oó]n de estado de entrega|unzustellbar|non remis|warning: could not send)/i;

export function classifyBounce(mail: InboundMail): Automated | undefined {
  const from = mail.from?.address ?? '';
  const local = from.split('@')[0] ?? '';
  const status = statusCode(mail);
  const hard = status ? status.startsWith('5') : undefined;
  if (mail.contentType === 'multipart/report' && mail.reportType === 'delivery-status') {
    return { kind: 'bounce', why: `DSN${status ? ` ${status}` : ''}`, hard: hard ?? true };
  }
  if (mail.contentType === 'multipart/report' && mail.reportType === 'feedback-report') {
    return { kind: 'bounce', why: 'ARF feedback report', hard: false };
  }
  if (mail.contentType === 'multipart/report' && mail.reportType === 'disposition-notification') {
    return { kind: 'auto_reply', why: 'acuse de lectura (MDN)' };
  }
  const daemon = /^(mailer-daemon|postmaster|mail-daemon|mailerdaemon|bounce[s]?|mdaemon|mail\.?delivery)$/i.test(local);
  if (daemon || (mail.returnPath === '' && BOUNCE_SUBJECT.test(mail.subject))) {
    return { kind: 'bounce', why: daemon ? `remitente ${local}` : 'Return-Path vacío', hard: hard ?? BOUNCE_SUBJECT.test(mail.subject) };
  }
  if (BOUNCE_SUBJECT.test(mail.subject) && /^(mail delivery|postmaster|mailer)/i.test(mail.from?.name ?? '')) {
    return { kind: 'bounce', why: 'asunto de rebote', hard: hard ?? true };
  }
  if (header(mail, 'x-failed-recipients')) return { kind: 'bounce', why: 'X-Failed-Recipients', hard: hard ?? true };
  return undefined;
}

function statusCode(mail: InboundMail): string | undefined {
  const m = /^\s*Status:\s*([245]\.\d{1,3}\.\d{1,3})/im.exec(mail.embeddedHeaders) ?? /\b([45]\.\d\.\d{1,3})\b/.exec(mail.text.slice(0, 4000));
  return m?.[1];
}

export const bounce: Filter = {
  name: 'bounce',
  run(mail) {
    const verdict = classifyBounce(mail);
    return verdict ? next({ automated: verdict }) : next();
  },
};
