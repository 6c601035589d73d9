import fs from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { SendMailOptions } from 'nodemailer';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';

/**
 * Where mail leaves: pooled SMTP through nodemailer (SMTP_HOST set), or, for the demo and for one-machine setups,
 * `.eml` files under DATA_DIR/outbox-eml (one per outbox row, written atomically; a resend overwrites the same
 * file, as the same Message-ID would be resent over SMTP).
 */
export interface MailTransport {
  readonly kind: 'smtp' | 'eml';
  send(msg: SendMailOptions & { rowId: number }): Promise<{ response?: string; file?: string }>;
  close(): void;
}

export function createTransport(config: Config, log: Logger): MailTransport {
  const smtp = config.outbound.smtp;
  if (!smtp) return new EmlTransport(path.join(config.dataDir, 'outbox-eml'));
  const transporter = nodemailer.createTransport({
    pool: true,
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    auth: smtp.user ? { user: smtp.user, pass: smtp.password ?? '' } : undefined,
    maxConnections: smtp.poolSize,
    maxMessages: 100,
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 60_000,
    logger: log.child({ component: 'smtp' }) as any,
    debug: false,
  });
  return {
    kind: 'smtp',
    async send(msg) {
      const { rowId: _rowId, ...options } = msg;
      const info = await transporter.sendMail(options);
      return { response: info.response };
    },
    close() {
      transporter.close();
    },
  };
}

export class EmlTransport implements MailTransport {
  readonly kind = 'eml' as const;
  private readonly composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });

  constructor(readonly dir: string) {}

  async send(msg: SendMailOptions & { rowId: number }): Promise<{ file: string }> {
    const { rowId, ...options } = msg;
    const info = await this.composer.sendMail(options);
    fs.mkdirSync(this.dir, { recursive: true });
    const file = path.join(this.dir, `${String(rowId).padStart(6, '0')}.eml`);
    const tmp = `${file}.tmp`;
    fs.writeFileSync(tmp, info.message as Buffer);
    fs.renameSync(tmp, file);
    return { file };
  }

  close(): void {}
}
