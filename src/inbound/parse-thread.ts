import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { MesaError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { PARSE_WORKER_URL } from '../paths.ts';
import type { BlobStore } from '../storage/blobs.ts';
import { asBuffer, ownBytes } from '../thread-bytes.ts';
import type { InboundMail } from './mail.ts';
import { InThreadParser, withRaw, type MailParser, PARSE_TIMEOUT_MS, type ParseReply } from './parser.ts';
import {
  mailFromThread,
  SEND_TO_THREAD_MAX_BYTES,
  spillPath,
  withSpilledBytes,
  type Pending,
} from './parse-thread-transfer.ts';

export interface ParseThreadOptions {
  blobs: BlobStore;
  logger: Logger;
  timeoutMs?: number;
  maxAttachmentBytes?: number;
  workerUrl?: URL;
}

/**
 * MIME parsing on a worker thread, the second core of the small machines Mesa runs on: while it parses the next
 * mails of a batch, the main thread judges and writes the ones before (docs/performance.md).
 * It also bounds what one hostile mail can do: a parse that hangs the thread past the time limit, or that kills
 * it, costs that one mail (quarantined as `parse_timeout` / `unparseable`); the thread is started again for the
 * mails queued behind it, and the main thread, /healthz and the other mailboxes never stop.
 *
 * Requests go in order to one thread, which answers them in order; a mail above SEND_TO_THREAD_MAX_BYTES is
 * transferred (see there), so that a slow parse of a large mail never stalls the main thread either. If the thread
 * cannot start at all (a broken install), parsing falls back to the main thread, with a warning: slower, never stuck.
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
  /** Parsing on this thread, once the thread could not start (`threadless`). */
  private readonly local: InThreadParser;
  private threadless = false;
  private closed = false;
  /** Mails the thread answered (parsed or refused). */
  answered = 0;

  /**
   * `workerUrl`: the thread's body, by default the built parse-worker.js beside the running code (src/paths.ts).
   * Node 20 cannot start a TypeScript file as a thread, so running the sources (tsx, vitest) gives a thread that
   * cannot start, and mail is parsed on this thread; tests pass the built body, or one that misbehaves on purpose.
   */
  constructor(private readonly opts: ParseThreadOptions) {
    this.local = new InThreadParser(opts.blobs, {
      timeoutMs: opts.timeoutMs,
      maxAttachmentBytes: opts.maxAttachmentBytes,
    });
  }

  /** Mails parsed on the calling thread instead (the thread could not start). */
  get parsedHere(): number {
    return this.local.parsed;
  }

  /** The running thread's id (undefined when none runs, or when parsing fell back to this thread). */
  get threadId(): number | undefined {
    return this.worker?.threadId;
  }

  parse(raw: Buffer, rawSha256?: string): Promise<InboundMail> {
    if (this.closed) return Promise.reject(new MesaError('PARSER_UNAVAILABLE', 'Mesa se está deteniendo'));
    if (!this.thread()) return this.local.parse(raw, rawSha256);
    return new Promise((resolve, reject) => {
      const req = {
        id: this.nextId++,
        raw,
        rawSha256,
        timeoutMs: this.timeoutMs,
        maxAttachmentBytes: this.opts.maxAttachmentBytes,
      };
      this.pending.push({
        req,
        raw,
        size: raw.length,
        large: raw.length > SEND_TO_THREAD_MAX_BYTES,
        posted: false,
        resolve,
        reject,
      });
      this.pump();
    });
  }

  /**
   * Posts the pending mails not posted yet, in order, up to a large one that cannot go yet: it goes by transfer
   * only when it is the first pending mail and the thread is ready (SEND_TO_THREAD_MAX_BYTES), and nothing after it
   * goes before it (the thread answers in order).
   */
  private pump(): void {
    const worker = this.worker;
    if (!worker) return;
    for (const [i, p] of this.pending.entries()) {
      if (p.posted) continue;
      if (p.large && (i > 0 || !this.ready)) break;
      if (p.large) {
        const own = ownBytes(p.raw);
        p.req = { ...p.req, raw: own, spill: spillPath(this.opts.blobs.root, p.req.id) };
        worker.postMessage(p.req, [own.buffer as ArrayBuffer]);
      } else {
        worker.postMessage(p.req);
      }
      p.posted = true;
    }
    if (this.pending.length) {
      worker.ref();
      if (this.ready && !this.deadline) this.armDeadline();
    }
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
      worker = new Worker(this.opts.workerUrl ?? PARSE_WORKER_URL, {
        workerData: { blobRoot: this.opts.blobs.root },
        stdout: false,
        stderr: false,
      });
    } catch (err) {
      this.giveUp(undefined, err); // could not even be created
      return undefined;
    }
    // Ready once its modules have loaded (it says so): a failure before that is a broken install, not a bad mail.
    // The handlers below act only while `worker` is the current thread (exited() and giveUp() check it).
    this.ready = false;
    this.started = new Promise((resolve) => {
      this.settleStarted = resolve;
    });
    worker.on('message', (reply: ParseReply | { ready: true }) => {
      if (worker !== this.worker) return;
      if (!('ready' in reply)) return this.answer(reply);
      this.ready = true;
      this.settleStarted?.();
      // The time limit is for parsing: the clock starts once the thread is there (its modules loaded).
      if (this.pending.length) this.armDeadline();
      this.pump();
    });
    worker.on('error', (err) => {
      if (worker !== this.worker) return;
      if (!this.ready) return this.giveUp(worker, err);
      this.opts.logger.error({ err }, 'el hilo de análisis de correo falló');
    });
    worker.on('exit', (code) =>
      this.ready || this.stopping === 'close'
        ? this.exited(worker, code)
        : this.giveUp(worker, new Error(`terminó al iniciar (código ${code})`)),
    );
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
    this.answered++;
    this.clearDeadline();
    if (this.pending.length) this.armDeadline();
    else this.worker?.unref();
    // A transferred mail's bytes come back with the answer.
    const raw = reply.raw ? asBuffer(reply.raw) : item.raw;
    if (item.req.spill) fs.rmSync(item.req.spill, { force: true });
    if (reply.mail) {
      item.resolve(mailFromThread(reply.mail, raw));
    } else {
      const { code, detail } = reply.error;
      item.reject(withRaw(code ? new MesaError(code, detail) : new Error(detail), raw));
    }
    this.pump();
  }

  private clearDeadline(): void {
    clearTimeout(this.deadline);
    this.deadline = undefined;
  }

  /** The thread parsing the first pending mail gets the time limit, plus a margin for its own timer to fire first
   * (that one only fires if the parse yields; a parse stuck in a loop never does). */
  private armDeadline(): void {
    this.clearDeadline();
    this.deadline = setTimeout(
      () => {
        this.stopping = 'timeout';
        void this.worker?.terminate();
      },
      this.timeoutMs + Math.min(5_000, this.timeoutMs),
    );
    this.deadline.unref();
  }

  /** The thread ended while mails were pending: the one it was parsing is charged with it; the rest go to a new one. */
  private exited(worker: Worker, code: number): void {
    if (worker !== this.worker) return;
    this.worker = undefined;
    this.settleStarted?.();
    this.clearDeadline();
    const [current, ...rest] = this.pending;
    this.pending = [];
    if (this.stopping === 'close') {
      // Nothing recorded, so a tempfail: the mail is offered again (its bytes, if transferred, went with the thread).
      for (const p of [current, ...rest]) p?.reject(new MesaError('PARSER_UNAVAILABLE', 'Mesa se está deteniendo'));
      return;
    }
    if (current) {
      const stopped =
        this.stopping === 'timeout'
          ? new MesaError('MAIL_PARSE_TIMEOUT', `${this.timeoutMs} ms; se detuvo el hilo de análisis`)
          : new MesaError('MAIL_UNPARSEABLE', `el hilo de análisis terminó (código ${code}) con este mensaje`);
      this.opts.logger.warn(
        { code, reason: stopped.code },
        'el hilo de análisis se detuvo; se inicia otro para los mensajes siguientes',
      );
      current.reject(current.req.spill ? withSpilledBytes(stopped, current.req.spill, current.size) : stopped);
    }
    if (!rest.length) return;
    // Only small mails can have been posted behind the current one (they were copied): post them all again.
    for (const p of rest) p.posted = false;
    this.pending.push(...rest);
    // If a new thread cannot even be created, giveUp() hands the pending mails to this thread.
    if (this.thread()) this.pump();
  }

  /** The thread could not start: parse here from now on, including what was already sent to it. */
  private giveUp(worker: Worker | undefined, err: unknown): void {
    if (worker !== this.worker) return;
    this.opts.logger.warn({ err }, 'no se pudo iniciar el hilo de análisis; se analiza en el hilo principal');
    this.worker = undefined;
    this.clearDeadline();
    void worker?.terminate();
    this.threadless = true;
    this.settleStarted?.();
    const waiting = this.pending;
    this.pending = [];
    for (const p of waiting) this.local.parse(p.raw, p.req.rawSha256).then(p.resolve, p.reject);
  }
}
