import fs from 'node:fs';
import path from 'node:path';
import { MesaError } from '../errors.ts';
import { asBuffer } from '../thread-bytes.ts';
import type { InboundMail } from './mail.ts';
import { withRaw, type ParseRequest } from './parser.ts';

/**
 * How a mail's bytes cross to the parse thread and back (src/inbound/parse-thread.ts): small mails by copy, large
 * ones by transfer with a spill file, so that a mail the thread dies on is still recorded with its bytes.
 */

/**
 * Mails larger than this are handed to the thread by transfer instead of by copy: a copy is a structured clone,
 * serialised and copied again into the thread's heap, three copies of a mail of tens of MB at once; a transfer moves
 * the bytes and the thread gives them back with its answer. Such a mail goes alone: only once every mail before it is
 * answered, so that it is the one being parsed if the thread dies, and its bytes are then found in the spill file the
 * thread wrote on receiving them.
 */
export const SEND_TO_THREAD_MAX_BYTES = 4 * 1024 * 1024;

export interface Pending {
  req: ParseRequest;
  /** The caller's bytes (taken over, i.e. detached, once a large mail is posted). */
  raw: Buffer;
  /** Its length (a transferred buffer's own reads 0). */
  size: number;
  /** A large mail: sent by transfer, alone (see SEND_TO_THREAD_MAX_BYTES). */
  large: boolean;
  posted: boolean;
  resolve: (m: InboundMail) => void;
  reject: (e: unknown) => void;
}

/** Where the thread writes a transferred mail on receiving it, before it parses. */
export function spillPath(blobRoot: string, requestId: number): string {
  return path.join(blobRoot, 'tmp', `parse-${process.pid}-${requestId}.eml`);
}

/** The thread's parsed mail, with the caller's bytes and Buffers for the attachments' content. */
export function mailFromThread(parsed: Omit<InboundMail, 'raw'>, raw: Buffer): InboundMail {
  const mail = parsed as InboundMail;
  mail.raw = raw;
  for (const a of mail.attachments) if (a.content) a.content = asBuffer(a.content);
  return mail;
}

/**
 * A transferred mail died with the thread: its bytes are in the spill file, written before the parse began, and go
 * with the error so that the mail is recorded (quarantined). Without it (the thread died on receiving it), nothing
 * is recorded and the mail is offered again.
 */
export function withSpilledBytes(reason: Error, spill: string, size: number): Error {
  const kept = fs.existsSync(spill) ? fs.readFileSync(spill) : undefined;
  fs.rmSync(spill, { force: true });
  return kept?.length === size
    ? withRaw(reason, kept)
    : new MesaError('PARSER_UNAVAILABLE', 'el hilo de análisis terminó al recibir el mensaje');
}
