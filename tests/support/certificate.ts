import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * A self-signed certificate and its key, made by OpenSSL in `dir` (once: kept if already there), for `name`: the
 * common name, and for a host name also the subjectAltName a TLS client checks. `.ci/run` installs openssl.
 */
export function selfSignedCertificate(dir: string, name: string, opts: { host?: boolean } = {}) {
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  if (!fs.existsSync(cert))
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '2',
        '-subj',
        `/CN=${name}`,
      ].concat(opts.host ? ['-addext', `subjectAltName=DNS:${name}`] : []),
      { stdio: 'ignore' },
    );
  return { key, cert };
}
