import crypto from 'node:crypto';

/**
 * Tokens at rest: AES-256-GCM with a key derived from SECRET_KEY by HKDF-SHA256 (RFC 5869), so the database alone
 * (a dump, a backup) never yields a usable token. Each value gets a fresh 96-bit nonce; the mailbox and the field
 * are bound as additional data, so a ciphertext copied into another row or column does not decrypt.
 * Format: `v1.<nonce>.<ciphertext>.<tag>`, base64url.
 */
export class TokenCipher {
  private readonly key: Buffer;

  constructor(secretKey: string) {
    this.key = Buffer.from(crypto.hkdfSync('sha256', secretKey, 'mesa', 'mesa mailbox tokens v1', 32));
  }

  seal(plain: string, context: string): string {
    const nonce = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.key, nonce);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return ['v1', nonce, body, cipher.getAuthTag()]
      .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
      .join('.');
  }

  /** Undefined when the value was sealed under another SECRET_KEY or for another row (the tag does not match). */
  open(sealed: string, context: string): string | undefined {
    const [version, nonce, body, tag] = sealed.split('.');
    if (version !== 'v1' || !nonce || body === undefined || !tag) return undefined;
    try {
      const decipher = crypto.createDecipheriv('aes-256-gcm', this.key, Buffer.from(nonce, 'base64url'));
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }
}
