import type { ErrorCode } from '../errors.ts';
import type { BlobStore } from '../storage/blobs.ts';
import type { InboundMail } from './mail.ts';

/** How ingest turns raw bytes into an InboundMail: on this thread, or on the parse thread (parse-thread.ts). */
export interface MailParser {
  /**
   * `rawSha256`: the caller's hash of `raw` if it has one; otherwise the parse works it out (on the parse thread).
   * The parse thread may take `raw` over (a large mail is transferred, not copied): afterwards the caller reads the
   * bytes from the result's `raw`, or, after a failure, from rawOfFailure(err).
   */
  parse(raw: Buffer, rawSha256?: string): Promise<InboundMail>;
  /** Gets ready ahead of the first mail (`mesa start` calls it once it is listening). */
  warm(): Promise<void>;
  close(): Promise<void>;
}

/** mailparser has no time limit of its own (see parse.ts); 30 s is far beyond any real mail. */
export const PARSE_TIMEOUT_MS = 30_000;

export interface ParserLimits {
  timeoutMs?: number;
  /** MAX_ATTACHMENT_BYTES: a larger attachment is refused and written to no blob (it stays in the raw source). */
  maxAttachmentBytes?: number;
}

/** Parses on the calling thread, one mail at a time (as the parse thread does: a batch never parses 50 at once). */
export class InThreadParser implements MailParser {
  private chain: Promise<unknown> = Promise.resolve();
  /** Mails parsed here (the parse thread's fallback counts into it). */
  parsed = 0;

  constructor(
    private readonly blobs: BlobStore,
    private readonly limits: ParserLimits = {},
  ) {}

  parse(raw: Buffer, rawSha256?: string): Promise<InboundMail> {
    const limits = {
      timeoutMs: this.limits.timeoutMs ?? PARSE_TIMEOUT_MS,
      maxAttachmentBytes: this.limits.maxAttachmentBytes,
    };
    const run = this.chain.then(async () => {
      this.parsed++;
      return (await import('./parse.ts')).parseMail(raw, limits, rawSha256, this.blobs);
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  async warm(): Promise<void> {
    await import('./parse.ts');
  }

  async close(): Promise<void> {}
}

/**
 * One mail for the parse thread. `spill`: set when `raw` is transferred (a large mail): the thread writes the bytes
 * there as soon as it receives them, so that they survive the thread if the parse kills it.
 */
export interface ParseRequest {
  id: number;
  raw: Uint8Array;
  rawSha256?: string;
  timeoutMs: number;
  maxAttachmentBytes?: number;
  spill?: string;
}
/** `raw`: the transferred bytes, given back. */
export type ParseReply =
  | { id: number; mail: Omit<InboundMail, 'raw'>; error?: undefined; raw?: Uint8Array }
  | { id: number; error: { code?: ErrorCode; detail?: string }; mail?: undefined; raw?: Uint8Array };

const rawOf = new WeakMap<object, Buffer>();

/** A failed parse's error carries the mail's bytes when the parser had taken them over (see MailParser.parse). */
export function withRaw<E extends object>(err: E, raw: Buffer): E {
  rawOf.set(err, raw);
  return err;
}

export function rawOfFailure(err: unknown): Buffer | undefined {
  return typeof err === 'object' && err !== null ? rawOf.get(err) : undefined;
}
