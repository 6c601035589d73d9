import nodemailer from 'nodemailer';
import type { SendMailOptions } from 'nodemailer';

/** nodemailer's own composer: the same MIME message its SMTP transport writes, into one Buffer, lines ending CRLF. */
const composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });

/**
 * The whole MIME message of `options`, as nodemailer composes it for SMTP: the compose thread's work
 * (./compose-thread.ts), and what the .eml and Microsoft Graph transports write or post. A message composed already
 * (`raw`, from the compose thread) is returned as it is. The envelope is not part of the message.
 */
export async function composeMessage(options: SendMailOptions): Promise<Buffer> {
  if (Buffer.isBuffer(options.raw)) return options.raw;
  const { envelope: _envelope, ...message } = options;
  // nodemailer ends its own lines (headers, boundaries, encoded lines) with CRLF, not those of the text it is given:
  // a template's LF would stay bare in the body. Over SMTP its DATA stream mends them; an .eml file or Graph's
  // sendMail takes the message as it is, and RFC 5322 §2.3 allows CR and LF only together.
  const text = typeof message.text === 'string' ? crlf(message.text) : message.text;
  const html = typeof message.html === 'string' ? crlf(message.html) : message.html;
  return (await composer.sendMail({ ...message, text, html })).message as Buffer;
}

/** `s` with every line break as CRLF. */
function crlf(s: string): string {
  return s.includes('\r') ? s.replace(/\r\n|\r|\n/g, '\r\n') : s.replaceAll('\n', '\r\n');
}
