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
  return (await composer.sendMail(message)).message as Buffer;
}
