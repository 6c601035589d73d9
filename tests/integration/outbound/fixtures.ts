import crypto from 'node:crypto';
import type { App } from '../../../src/app.ts';
import type { SinkMessage } from '../../support/smtp-sink.ts';

/** Raw mail for the tests, written the way clients write it (CRLF, RFC 5322 headers). */
export function rawMail(p: {
  from: string;
  fromName?: string;
  to?: string;
  cc?: string;
  subject: string;
  body: string;
  messageId?: string;
  inReplyTo?: string;
  references?: string[];
  headers?: Record<string, string>;
  /** Files after the text, in this order. */
  attachments?: Array<{ filename: string; content: string | Buffer; type?: string }>;
}): Buffer {
  const files = p.attachments ?? [];
  const id = p.messageId ?? `${crypto.randomUUID()}@cliente.test`;
  const lines = [
    `From: ${p.fromName ? `"${p.fromName}" ` : ''}<${p.from}>`,
    `To: ${p.to ?? 'soporte@mesa.test'}`,
    ...(p.cc ? [`Cc: ${p.cc}`] : []),
    `Subject: ${p.subject}`,
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <${id}>`,
    ...(p.inReplyTo ? [`In-Reply-To: <${p.inReplyTo.replace(/^<|>$/g, '')}>`] : []),
    ...(p.references?.length
      ? [`References: ${p.references.map((r) => `<${r.replace(/^<|>$/g, '')}>`).join(' ')}`]
      : []),
    ...Object.entries(p.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
    'MIME-Version: 1.0',
  ];
  if (!files.length) {
    lines.push('Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '', p.body);
  } else {
    const b = `b-${crypto.randomBytes(6).toString('hex')}`;
    lines.push(
      `Content-Type: multipart/mixed; boundary="${b}"`,
      '',
      `--${b}`,
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      p.body,
      ...files.flatMap((f) => [
        `--${b}`,
        `Content-Type: ${f.type ?? 'application/pdf'}; name="${f.filename}"`,
        `Content-Disposition: attachment; filename="${f.filename}"`,
        'Content-Transfer-Encoding: base64',
        '',
        Buffer.from(f.content).toString('base64'),
      ]),
      `--${b}--`,
    );
  }
  return Buffer.from(lines.join('\r\n') + '\r\n');
}

/** A reply to one of our mails, as a mail client writes it: Re: subject, In-Reply-To/References, quoted text. */
export function replyTo(
  m: SinkMessage,
  p: { from: string; fromName?: string; body: string; headers?: Record<string, string>; quote?: boolean },
): Buffer {
  const refs = [...(String(m.header('references') ?? '').match(/<[^>]+>/g) ?? []), `<${m.messageId}>`].map((r) =>
    r.slice(1, -1),
  );
  const quoted =
    p.quote === false
      ? ''
      : `\n\nEl lun, 3 mar 2026 a las 10:15, Soporte Mesa <soporte@mesa.test> escribió:\n${m.text
          .split('\n')
          .map((l) => `> ${l}`)
          .join('\n')}`;
  return rawMail({
    from: p.from,
    fromName: p.fromName,
    subject: `RE: ${m.subject}`,
    body: `${p.body}${quoted}`,
    inReplyTo: m.messageId,
    references: refs,
    headers: p.headers,
  });
}

/** `count` customers each opening a case by mail (`cN@empresaN.com`, «Caso N»): a confirmation and a notice per
 * consultant each, in the outbox. */
export async function openCustomerCases(app: Pick<App, 'ingest'>, count: number): Promise<void> {
  for (let i = 1; i <= count; i++)
    await app.ingest.ingest(rawMail({ from: `c${i}@empresa${i}.com`, subject: `Caso ${i}`, body: `Detalle ${i}` }), {
      kind: 'stdin',
    });
}
