/**
 * A mail whose text Mesa cannot read because its sender protected it: encrypted with S/MIME (RFC 8551
 * `application/pkcs7-mime`, smime-type enveloped-data or authEnveloped-data) or OpenPGP (RFC 3156
 * `multipart/encrypted`, or an inline `-----BEGIN PGP MESSAGE-----` block), or S/MIME-signed in the opaque form
 * (smime-type signed-data: the text travels inside the signature, and is read from there when it can be:
 * smime-signed.ts). Mesa holds no private key and decrypts nothing: the protected part is kept as the message's
 * attachment, and the message says in words why it has no text, so that the consultant knows what to ask and the
 * customer, reading their confirmation, what to send again.
 */
export type Protection = 'smime' | 'smime-signed' | 'openpgp';

const PKCS7_MIME = new Set(['application/pkcs7-mime', 'application/x-pkcs7-mime']);
const PGP_ARMOR = /^-----BEGIN PGP MESSAGE-----\r?$/m;
const SIGNATURE_DELIMITER = /^-- ?\r?$/m;

/**
 * `contentType` and `params`: the mail's top-level Content-Type; `text`: its text (made from its HTML when it has no
 * text part). A protected part found deeper (a list or a gateway wrapped the mail in multipart/mixed) counts only
 * when the mail says nothing of its own: no text above a signature delimiter (RFC 3676 §4.3), where Mailman and
 * most lists write their footer. A readable mail that forwards an encrypted file is left as it is.
 */
export function protectionOf(
  contentType: string,
  params: Readonly<Record<string, string>> | undefined,
  text: string,
  attachments: readonly { contentType: string }[],
): Protection | undefined {
  if (PKCS7_MIME.has(contentType)) return isOpaqueSigned(contentType, params) ? 'smime-signed' : 'smime';
  if (contentType === 'multipart/encrypted') return 'openpgp';
  if (PGP_ARMOR.test(text)) return 'openpgp';
  const nested = attachments.some((a) => PKCS7_MIME.has(a.contentType))
    ? 'smime'
    : attachments.some((a) => a.contentType === 'application/pgp-encrypted')
      ? 'openpgp'
      : undefined;
  if (!nested) return undefined;
  const signature = text.search(SIGNATURE_DELIMITER);
  return (signature < 0 ? text : text.slice(0, signature)).trim() ? undefined : nested;
}

/** S/MIME's opaque signature: the text inside (smime-signed.ts opens it; this note is for one it could not). */
export function isOpaqueSigned(contentType: string, params: Readonly<Record<string, string>> | undefined): boolean {
  return PKCS7_MIME.has(contentType) && params?.['smime-type']?.toLowerCase() === 'signed-data';
}

const NOTES: Record<'es' | 'en', Record<Protection, string>> = {
  es: {
    smime:
      '[Mensaje cifrado con S/MIME: no se puede leer aquí. El archivo cifrado queda guardado con el caso; para ' +
      'atenderlo hace falta el texto sin cifrar.]',
    'smime-signed':
      '[Mensaje firmado con S/MIME en formato opaco: su texto va dentro de la firma y no se puede mostrar aquí. El ' +
      'archivo firmado queda guardado con el caso; para atenderlo hace falta el texto sin ese formato.]',
    openpgp:
      '[Mensaje cifrado con OpenPGP: no se puede leer aquí. Lo cifrado queda guardado con el caso; para atenderlo ' +
      'hace falta el texto sin cifrar.]',
  },
  en: {
    smime:
      '[Message encrypted with S/MIME: it cannot be read here. The encrypted file is kept with the case; the text ' +
      'is needed unencrypted to answer it.]',
    'smime-signed':
      '[Message signed with opaque S/MIME: its text travels inside the signature and cannot be shown here. The ' +
      'signed file is kept with the case; the text is needed in plain form to answer it.]',
    openpgp:
      '[Message encrypted with OpenPGP: it cannot be read here. The encrypted part is kept with the case; the text ' +
      'is needed unencrypted to answer it.]',
  },
};

/** The words a protected mail's message carries, after whatever text it had (an inline PGP block stays as sent). */
export function withProtectionNote(bodyText: string, protection: Protection | undefined, locale: 'es' | 'en'): string {
  if (!protection) return bodyText;
  const note = NOTES[locale][protection];
  return bodyText.trim() ? `${bodyText}\n\n${note}` : note;
}
