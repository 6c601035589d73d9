import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { selfSignedCertificate } from './certificate.ts';

/** Who writes, to whom, about what: the outer headers of a protected mail. */
export type Envelope = { from?: string; subject?: string; messageId?: string };

/**
 * A mail protected with S/MIME by OpenSSL itself (`openssl smime`), as a mail client makes it: `encrypt` (enveloped
 * data, to a certificate made here for the desk), `sign` (opaque signed data: the text inside the signature) or
 * `detached` (multipart/signed: the text readable, the signature beside it). `entity`: the MIME entity protected.
 */
export function smimeMail(
  dir: string,
  mode: 'encrypt' | 'sign' | 'detached',
  entity: string,
  e: Envelope = {},
): Buffer {
  const { key, cert } = selfSignedCertificate(dir, 'soporte@mesa.test');
  const input = path.join(dir, `entity-${mode}.txt`);
  fs.writeFileSync(input, entity);
  const args =
    mode === 'encrypt'
      ? ['smime', '-encrypt', '-aes256', '-in', input]
      : ['smime', '-sign', '-in', input, '-signer', cert, '-inkey', key, ...(mode === 'sign' ? ['-nodetach'] : [])];
  const from = e.from ?? 'pedro@cliente.co';
  const out = execFileSync('openssl', [
    ...args,
    '-from',
    from,
    '-to',
    'soporte@mesa.test',
    '-subject',
    e.subject ?? 'No puedo entrar',
    // The recipient's certificate comes last: OpenSSL reads it as the operand after the options.
    ...(mode === 'encrypt' ? [cert] : []),
  ]);
  const head = e.messageId ? `Message-ID: <${e.messageId}>\r\nDate: Mon, 07 Dec 2026 09:00:00 -0500\r\n` : '';
  return Buffer.concat([Buffer.from(head), Buffer.from(out.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1')]);
}

/**
 * A PGP/MIME mail (RFC 3156 multipart/encrypted), or one a mailing list wrapped in multipart/mixed with its footer
 * (signature-delimited, as Mailman writes it). `inReplyTo`: the Message-ID it answers.
 * The armored data is not a real OpenPGP packet: Mesa reads the mail's structure, never the encrypted bytes.
 */
export function pgpMimeMail(p: Envelope & { wrapped?: boolean; inReplyTo?: string } = {}): Buffer {
  const encrypted = [
    'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="enc"',
    '',
    '--enc',
    'Content-Type: application/pgp-encrypted',
    'Content-Description: PGP/MIME version identification',
    '',
    'Version: 1',
    '',
    '--enc',
    'Content-Type: application/octet-stream; name="encrypted.asc"',
    'Content-Disposition: inline; filename="encrypted.asc"',
    '',
    '-----BEGIN PGP MESSAGE-----',
    '',
    'hQEMA5bWq0ZbGm9hAQf/Yk3l0rR9kq3cXjvM2m1r2Q5k8b7nV0sZxC1pE4fH6gJ',
    '=q1Zx',
    '-----END PGP MESSAGE-----',
    '',
    '--enc--',
  ];
  const body = p.wrapped
    ? [
        'Content-Type: multipart/mixed; boundary="list"',
        '',
        '--list',
        ...encrypted,
        '--list',
        'Content-Type: text/plain; charset=utf-8',
        'Content-Disposition: inline',
        '',
        '-- ',
        'soporte-usuarios: lista de los usuarios de Contable',
        'https://listas.cliente.co/soporte-usuarios',
        '',
        '--list--',
      ]
    : encrypted;
  return Buffer.from(
    [
      `From: ${p.from ?? 'pedro@cliente.co'}`,
      'To: soporte@mesa.test',
      `Subject: ${p.subject ?? 'No puedo entrar'}`,
      ...(p.messageId ? [`Message-ID: <${p.messageId}>`] : []),
      ...(p.inReplyTo ? [`In-Reply-To: <${p.inReplyTo}>`] : []),
      'Date: Mon, 07 Dec 2026 09:00:00 -0500',
      'MIME-Version: 1.0',
      ...body,
      '',
    ].join('\r\n'),
  );
}
