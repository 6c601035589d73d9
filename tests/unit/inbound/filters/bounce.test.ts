import { describe, expect, it } from 'vitest';
import { bounce, classifyBounce } from '../../../../src/inbound/filters/bounce.ts';
import { failedRecipients } from '../../../../src/mail/bounces.ts';
import { ctxOf, mailOf } from './support.ts';

const dsn = (status: string, action = 'failed') =>
  [
    '--B',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'No se pudo entregar el mensaje a los siguientes destinatarios.',
    '--B',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.cliente.co',
    '',
    'Final-Recipient: rfc822; nadie@cliente.co',
    `Action: ${action}`,
    `Status: ${status}`,
    `Diagnostic-Code: smtp; ${status.startsWith('5') ? '550' : '452'} ${status} ${status === '5.1.1' ? 'user unknown' : 'mailbox full'}`,
    '--B',
    'Content-Type: text/rfc822-headers',
    '',
    'From: soporte@mesa.test',
    'Subject: [Caso #7] Factura',
    'Message-ID: <caso7.1@mesa.test>',
    '--B--',
    '',
  ].join('\r\n');

describe('bounce filter', () => {
  it.each([
    [
      'RFC 3464 DSN, 5.1.1 user unknown',
      {
        'Content-Type': 'multipart/report; report-type=delivery-status; boundary="B"',
        From: 'Mail Delivery System <MAILER-DAEMON@mx.cliente.co>',
        Subject: 'Undelivered Mail Returned to Sender',
      },
      dsn('5.1.1'),
      { hard: true, addressGone: true, status: '5.1.1' },
    ],
    [
      'DSN with a transient 4.x.x status is soft',
      {
        'Content-Type': 'multipart/report; report-type=delivery-status; boundary="B"',
        From: 'postmaster@mx.cliente.co',
        Subject: 'Delivery Status Notification (Delay)',
      },
      dsn('4.2.2', 'delayed'),
      { hard: false, addressGone: false, status: '4.2.2' },
    ],
    [
      '5.2.2 mailbox full: permanent, but the address lives',
      {
        'Content-Type': 'multipart/report; report-type=delivery-status; boundary="B"',
        From: 'MAILER-DAEMON@mx.cliente.co',
        Subject: 'Returned mail',
      },
      dsn('5.2.2'),
      { hard: true, addressGone: false, status: '5.2.2' },
    ],
    [
      'null Return-Path with a bounce subject',
      { 'Return-Path': '<>', From: 'Sistema <sistema@cliente.co>', Subject: 'Mensaje no entregado: Factura' },
      'El mensaje no se pudo entregar. 550 5.1.1 usuario desconocido',
      { hard: true, addressGone: true },
    ],
    [
      'MAILER-DAEMON sender',
      { From: 'MAILER-DAEMON@mx.cliente.co', Subject: 'failure notice' },
      'Hi. This is the qmail-send program. Sorry, no mailbox here by that name. (#5.1.1)',
      { hard: true },
    ],
    [
      'postmaster sender, Spanish Exchange subject',
      { From: 'postmaster@cliente.co', Subject: 'No se pudo entregar: Factura' },
      'No se pudo entregar el mensaje a nadie@cliente.co.',
      { hard: true },
    ],
    [
      '"MAILER-DAEMON <>" leaves no address but is still a bounce',
      { From: 'MAILER-DAEMON <>', Subject: 'Mail delivery failed' },
      'There was an error delivering your mail. 550 5.7.26 DMARC policy.',
      { hard: true, addressGone: false },
    ],
    [
      'sendmail\'s "Host unknown" with no enhanced code: the domain is gone',
      {
        From: 'Mail Delivery Subsystem <MAILER-DAEMON@mx.cliente.co>',
        Subject: 'Returned mail: see transcript for details',
      },
      '----- Transcript of session follows -----\r\n550 cliente.co (smtp)... 550 Host unknown',
      { hard: true, addressGone: true },
    ],
    [
      'an unspecific 5.0.0 that says the user is not found',
      { From: 'postmaster@cliente.co', Subject: 'Undeliverable: Factura' },
      'Delivery has failed. 550 5.0.0 User not found',
      { hard: true, addressGone: true },
    ],
    [
      'an unspecific 5.0.0 that names a policy, not the address',
      { From: 'postmaster@cliente.co', Subject: 'Undeliverable: Factura' },
      'Delivery has failed. 550 5.0.0 Invalid domain name in HELO',
      { hard: true, addressGone: false },
    ],
    [
      'ARF feedback report (RFC 5965) is kept away, never hard',
      {
        'Content-Type': 'multipart/report; report-type=feedback-report; boundary="B"',
        From: 'abuse@isp.example',
        Subject: 'Abuse report',
      },
      '--B\r\nContent-Type: text/plain\r\n\r\nThis is an abuse report\r\n--B\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n--B--\r\n',
      { hard: false },
    ],
  ])('recognises %s', async (_name, headers, body, expected) => {
    const m = await mailOf(headers as Record<string, string>, body);
    const v = classifyBounce(m);
    expect(v?.kind).toBe('bounce');
    expect(v).toMatchObject(expected);
    expect(bounce.run(m, ctxOf(), {})).toEqual({ kind: 'continue', facts: { automated: v } });
  });

  it.each([
    [
      'an ordinary customer mail',
      { Subject: 'No puedo entrar al sistema' },
      'Me sale error 5.1.1 al entrar (según la pantalla).',
    ],
    [
      'a customer forwarding a bounce to ask about it',
      { Subject: 'RV: problema con el correo' },
      'Me llegó esto, ¿qué significa?',
    ],
  ])('does not take %s for a bounce', async (_name, headers, body) => {
    expect(classifyBounce(await mailOf(headers, body))).toBeUndefined();
  });

  it('treats a read receipt (MDN) as automatic mail, not a bounce', async () => {
    const m = await mailOf(
      {
        'Content-Type': 'multipart/report; report-type=disposition-notification; boundary="B"',
        Subject: 'Leído: Factura',
      },
      '--B\r\nContent-Type: text/plain\r\n\r\nLeído\r\n--B--\r\n',
    );
    expect(classifyBounce(m)?.kind).toBe('auto_reply');
  });
});

describe('reading a forged report in one pass', () => {
  it('finds the real address among a run of «@» in X-Failed-Recipients', async () => {
    const m = await mailOf(
      {
        'Content-Type': 'multipart/report; report-type=delivery-status; boundary="B"',
        From: 'Mail Delivery System <MAILER-DAEMON@mx.cliente.co>',
        Subject: 'Undelivered Mail Returned to Sender',
        'X-Failed-Recipients': `${'a@'.repeat(20_000)}, Ana <ana@cliente.co>; b@c@d.co, e@f., @g.co, h@.co`,
      },
      dsn('5.1.1'),
    );
    expect(failedRecipients(m)).toEqual(['ana@cliente.co']);
  });

  it('reads Action and Status after a long run of blank lines', async () => {
    const m = await mailOf(
      {
        'Content-Type': 'multipart/report; report-type=delivery-status; boundary="B"',
        From: 'MAILER-DAEMON@mx.cliente.co',
        Subject: 'Delivery Status Notification (Delay)',
      },
      dsn('4.2.2', 'delayed'),
    );
    // The report as the parse hands it over, with the blank lines a forged one can carry before its fields.
    const forged = { ...m, embeddedHeaders: `${'\n'.repeat(200_000)}${m.embeddedHeaders}` };
    expect(classifyBounce(forged)).toMatchObject({ kind: 'bounce', hard: false, status: '4.2.2' });
  });
});
