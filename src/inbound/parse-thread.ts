import { Worker } from 'node:worker_threads';
import { MesaError, type ErrorCode } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { PARSE_WORKER_URL } from '../paths.ts';
import type { BlobStore } from '../storage/blobs.ts';
import type { InboundMail } from './mail.ts';

/** How ingest turns raw bytes into an InboundMail: on this thread, or on the parse thread below. */
export interface MailParser {
  /** `rawSha256`: the caller's hash of `raw` if it has one; otherwise the parse works it out (on the parse thread). */
  parse(raw: Buffer, rawSha256?: string): Promise<InboundMail>;
  /** Gets ready ahead of the first mail (`mesa start` calls it once it is listening). */
  warm(): Promise<void>;
  close(): Promise<void>;
}

/** mailparser has no time limit of its own (see parse.ts); 30 s is far beyond any real mail. */
export const PARSE_TIMEOUT_MS = 30_000;

/**
 * Mails larger than this are parsed on the main thread. Sending one to the thread copies it (a structured clone is
 * serialised, then copied again into the thread's heap): with a 25 MB attachment, `mesa start` peaked at 280 MB
 * instead of 211 MB (`npm run bench`, memory). Such mails are rare and few per batch, so the parse thread keeps the
 * throughput of ordinary mail, and memory stays that of one copy.
 */
export const SEND_TO_THREAD_MAX_BYTES = 4 * 1024 * 1024;

/** Parses on the calling thread, one mail at a time (as the parse thread does: a batch never parses 50 at once). */
export class InThreadParser implements MailParser {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly blobs: BlobStore, private readonly timeoutMs = PARSE_TIMEOUT_MS) {}

  parse(raw: Buffer, rawSha256?: string): Promise<InboundMail> {
    const run = this.chain.then(async () => (await import('./parse.ts')).parseMail(raw, { timeoutMs: this.timeoutMs }, rawSha256, this.blobs));
    this.chain = run.catch(() => undefined);
    return run;
  }

  async warm(): Promise<void> {
    await import('./parse.ts');
  }

  async close(): Promise<void> {}
}

export interface ParseRequest { id: number; raw: Uint8Array; rawSha256?: string; timeoutMs: number }
export type ParseReply =
  | { id: number; mail: Omit<InboundMail, 'raw'>; error?: undefined }
  | { id: number; error: { code?: ErrorCode; detail?: string }; mail?: undefined };

interface Pending { req: ParseRequest; raw: Buffer; resolve: (m: InboundMail) => void; reject: (e: unknown) => void }

/**
 * MIME parsing on a worker thread, the second core of the small machines Mesa runs on: while it parses the next
 * mails of a batch, the main thread judges and writes the ones before (`npm run bench`, docs/performance.md).
 * It also bounds what one hostile mail can do: a parse that hangs the thread past the time limit, or that kills
 * it, costs that one mail (quarantined as `parse_timeout` / `unparseable`); the thread is started again for the
 * mails queued behind it, and the main thread, /healthz and the other mailboxes never stop.
 *
 * Requests go in order to one thread, which answers them in order; a mail above SEND_TO_THREAD_MAX_BYTES is parsed
 * on the main thread instead (memory). If the thread cannot start at all (a broken install), parsing falls back to
 * the main thread, with a warning: slower, never stuck.
 */
export class ParseThread implements MailParser {
  private worker?: Worker;
  /** Sent and not yet answered, oldest first: the first one is the mail being parsed. */
  private pending: Pending[] = [];
  private nextId = 1;
  private deadline?: NodeJS.Timeout;
  /** The current thread has loaded its modules and said so. */
  private ready = false;
  /** Settles when the current thread is ready or was given up. */
  private started?: Promise<void>;
  private settleStarted?: () => void;
  /** The current thread was stopped by us (the deadline, close()): why, for the mail it was parsing. */
  private stopping?: 'timeout' | 'close';
  /** Parsing on this thread: large mails (SEND_TO_THREAD_MAX_BYTES), and every mail once the thread could not
   * start (`threadless`). */
  private readonly local: InThreadParser;
  private threadless = false;
  private closed = false;

  /**
   * `workerUrl`: the thread's body, by default the built parse-worker.js beside the running code (src/paths.ts).
   * Node 20 cannot start a TypeScript file as a thread, so running the sources (tsx, vitest) gives a thread that
   * cannot start, and mail is parsed on this thread; tests pass the built body, or one that misbehaves on purpose.
   */
  constructor(private readonly opts: { blobs: BlobStore; logger: Logger; timeoutMs?: number; workerUrl?: URL }) {
    this.local = new InThreadParser(opts.blobs, opts.timeoutMs);
  }

  /** The running thread's id (undefined when none runs, or when parsing fell back to this thread). */
  get threadId(): number | undefined {
    return this.worker?.threadId;
  }

  parse(raw: Buffer, rawSha256?: string): Promise<InboundMail> {
    if (this.closed) return Promise.reject(new MesaError('PARSER_UNAVAILABLE', 'Mesa se está deteniendo'));
    const worker = raw.length <= SEND_TO_THREAD_MAX_BYTES ? this.thread() : undefined;
    if (!worker) return this.local.parse(raw, rawSha256);
    return new Promise((resolve, reject) => {
      const item: Pending = { req: { id: this.nextId++, raw, rawSha256, timeoutMs: this.timeoutMs }, raw, resolve, reject };
      this.pending.push(item);
      worker.postMessage(item.req);
      if (this.pending.length === 1) {
        worker.ref();
        if (this.ready) this.armDeadline();
      }
    });
  }

  /** Starts the thread; resolves once it is ready, or once parsing fell back to this thread. */
  async warm(): Promise<void> {
    if (this.closed || !this.thread()) return;
    await this.started;
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    if (!worker) return;
    this.stopping = 'close';
    await worker.terminate();
  }

  private get timeoutMs(): number {
    return this.opts.timeoutMs ?? PARSE_TIMEOUT_MS;
  }

  /** The running thread, started if there is none; undefined once parsing fell back to this thread. */
  private thread(): Worker | undefined {
    if (this.threadless) return undefined;
    if (this.worker) return this.worker;
    let worker: Worker;
    try {
      worker = new Worker(this.opts.workerUrl ?? PARSE_WORKER_URL, { workerData: { blobRoot: this.opts.blobs.root }, stdout: false, stderr: false });
    } catch (err) {
      this.giveUp(undefined, err); // could not even be created
      return undefined;
    }
    // Ready once its modules have loaded (it says so): a failure before that is a broken install, not a bad mail.
    // The handlers below act only while `worker` is the current thread (exited() and giveUp() check it).
    this.ready = false;
    this.started = new Promise((resolve) => { this.settleStarted = resolve; });
    worker.on('message', (reply: ParseReply | { ready: true }) => {
      if (worker !== this.worker) return;
      if (!('ready' in reply)) return this.answer(reply);
      this.ready = true;
      this.settleStarted?.();
      // The time limit is for parsing: the clock starts once the thread is there (its modules loaded).
      if (this.pending.length) this.armDeadline();
    });
    worker.on('error', (err) => {
      if (worker !== this.worker) return;
      if (!this.ready) return this.giveUp(worker, err);
      this.opts.logger.error({ err }, 'el hilo de análisis de correo falló');
    });
    worker.on('exit', (code) => (this.ready || this.stopping === 'close' ? this.exited(worker, code) : this.giveUp(worker, new Error(`terminó al iniciar (código ${code})`))));
    // Idle, it must not keep `mesa ingest` or a test alive; busy, it does (ref'd while a mail is pending).
    worker.unref();
    this.worker = worker;
    this.stopping = undefined;
    return worker;
  }

  private answer(reply: ParseReply): void {
    const item = this.pending[0];
    if (!item || item.req.id !== reply.id) return;
    this.pending.shift();
    clearTimeout(this.deadline);
    if (this.pending.length) this.armDeadline();
    else this.worker?.unref();
    if (reply.mail) {
      const mail = reply.mail as InboundMail;
      mail.raw = item.raw;
      // Buffers come back as plain Uint8Arrays.
      for (const a of mail.attachments) if (a.content) a.content = Buffer.from(a.content.buffer, a.content.byteOffset, a.content.byteLength);
      item.resolve(mail);
    } else {
      const { code, detail } = reply.error;
      item.reject(code ? new MesaError(code, detail) : new Error(detail));
    }
  }

  /** The thread parsing the first pending mail gets the time limit, plus a margin for its own timer to fire first
   * (that one only fires if the parse yields; a parse stuck in a loop never does). */
  private armDeadline(): void {
    clearTimeout(this.deadline);
    this.deadline = setTimeout(() => {
      this.stopping = 'timeout';
      void this.worker?.terminate();
    }, this.timeoutMs + Math.min(5_000, this.timeoutMs));
    this.deadline.unref();
  }

  /** The thread ended while mails were pending: the one it was parsing is charged with it; the rest go to a new one. */
  private exited(worker: Worker, code: number): void {
    if (worker !== this.worker) return;
    this.worker = undefined;
    this.settleStarted?.();
    clearTimeout(this.deadline);
    const [current, ...rest] = this.pending;
    this.pending = [];
    if (this.stopping === 'close') {
      for (const p of [current, ...rest]) p?.reject(new MesaError('PARSER_UNAVAILABLE', 'Mesa se está deteniendo'));
      return;
    }
    if (current) {
      const reason = this.stopping === 'timeout'
        ? new MesaError('MAIL_PARSE_TIMEOUT', `${this.timeoutMs} ms; se detuvo el hilo de análisis`)
        : new MesaError('MAIL_UNPARSEABLE', `el hilo de análisis terminó (código ${code}) con este mensaje`);
      this.opts.logger.warn({ code, reason: reason.code }, 'el hilo de análisis se detuvo; se inicia otro para los mensajes siguientes');
      current.reject(reason);
    }
    if (!rest.length) return;
    this.pending.push(...rest);
    // If a new thread cannot even be created, giveUp() hands the pending mails to this thread.
    const next = this.thread();
    if (!next) return;
    for (const p of rest) next.postMessage(p.req);
    next.ref();
  }

  /** The thread could not start: parse here from now on, including what was already sent to it. */
  private giveUp(worker: Worker | undefined, err: unknown): void {
    if (worker !== this.worker) return;
    this.opts.logger.warn({ err }, 'no se pudo iniciar el hilo de análisis; se analiza en el hilo principal');
    this.worker = undefined;
    clearTimeout(this.deadline);
    void worker?.terminate();
    this.threadless = true;
    this.settleStarted?.();
    const waiting = this.pending;
    this.pending = [];
    for (const p of waiting) this.local.parse(p.raw, p.req.rawSha256).then(p.resolve, p.reject);
  }
}
