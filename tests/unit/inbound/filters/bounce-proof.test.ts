import { describe, expect, it } from 'vitest';
import { bounce } from '../../../../src/inbound/filters/bounce.ts';
import { bounceProof } from '../../../../src/inbound/filters/bounce-proof.ts';
import { returnedMessageIds } from '../../../../src/mail/bounces.ts';
import { ctxOf, mailOf } from './support.ts';

/** A bounce proves an address only with the Message-ID of a mail we sent to it, in the returned header. */
const OURS = 'mesa.7.abcdefabcdef.k3j4h5.0123456789abcdef0123@mesa.test';

function dsn(failed: string, returned: string) {
  const b = 'BOUNDARY-1';
  const body = [
    `--${b}`,
    'Content-Type: text/plain',
    '',
    `<${failed}>: 550 5.1.1 User unknown`,
    '',
    `--${b}`,
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.empresa.com',
    '',
    `Final-Recipient: rfc822; ${failed}`,
    'Action: failed',
    'Status: 5.1.1',
    '',
    `--${b}`,
    'Content-Type: text/rfc822-headers',
    '',
    returned,
    '',
    `--${b}--`,
    '',
  ].join('\r\n');
  return mailOf(
    {
      From: 'MAILER-DAEMON@mx.empresa.com',
      Subject: 'Undelivered Mail Returned to Sender',
      'MIME-Version': '1.0',
      'Content-Type': `multipart/report; report-type=delivery-status; boundary="${b}"`,
    },
    body,
  );
}

async function judge(
  mail: Awaited<ReturnType<typeof dsn>>,
  returnedMail: Array<{ messageId: string; recipient: string }>,
) {
  const ctx = ctxOf({ returnedMail });
  const automated = bounce.run(mail, ctx, {});
  const facts = { ...(automated.kind === 'continue' ? automated.facts : {}) };
  const v = bounceProof.run(mail, ctx, facts);
  return v.kind === 'continue' ? v.facts?.returned : undefined;
}

describe('bounce proof', () => {
  it('reads the Message-ID of the returned header only, not its References', async () => {
    const mail = await dsn(
      'nadie@empresa.com',
      `To: nadie@empresa.com\r\nReferences: <otro@mesa.test>\r\nMessage-ID:\r\n <${OURS}>`,
    );
    expect(returnedMessageIds(mail)).toEqual([OURS]);
  });

  it('proves the address the outbox sent that Message-ID to, when the bounce names it', async () => {
    const mail = await dsn('nadie@empresa.com', `To: nadie@empresa.com\r\nMessage-ID: <${OURS}>`);
    expect(await judge(mail, [{ messageId: OURS, recipient: 'nadie@empresa.com' }])).toEqual({
      claimed: ['nadie@empresa.com'],
      proven: ['nadie@empresa.com'],
    });
  });

  it('proves nothing when the Message-ID was sent to someone else, or is not one the outbox sent', async () => {
    const other = await dsn('ana@mesa.test', `To: ana@mesa.test\r\nMessage-ID: <${OURS}>`);
    expect(await judge(other, [{ messageId: OURS, recipient: 'nadie@empresa.com' }])).toEqual({
      claimed: ['ana@mesa.test'],
      proven: [],
    });
    const unknown = await dsn('nadie@empresa.com', 'To: nadie@empresa.com\r\nMessage-ID: <inventado@mesa.test>');
    expect(await judge(unknown, [])).toEqual({ claimed: ['nadie@empresa.com'], proven: [] });
  });

  it('leaves mail that is not a bounce alone', async () => {
    const mail = await mailOf({ Subject: 'Consulta' });
    expect(bounceProof.run(mail, ctxOf(), {})).toEqual({ kind: 'continue', facts: undefined });
  });
});
