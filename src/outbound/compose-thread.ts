import { Worker } from 'node:worker_threads';
import type { SendMailOptions } from 'nodemailer';
import type { Logger } from '../logger.ts';
import { COMPOSE_WORKER_URL } from '../paths.ts';
import { asBuffer } from '../thread-bytes.ts';
import { composeMessage } from './compose.ts';
import type { OutgoingMail } from './outgoing.ts';

/** How long the thread stays without mail to compose: the next burst finds it, a quiet desk does not keep it. */
const IDLE_MS = 60_000;
/** How long the thread may go without answering while it has mail: composing one takes milliseconds, so a thread
 * silent this long is stuck, and is stopped (its mail is then composed on the calling thread). */
const STUCK_MS = 30_000;

export interface ComposeRequest {
  id: number;
  options: SendMailOptions;
}

export type ComposeReply =
  { id: number; message: Uint8Array } | { id: number; error: { message: string; code?: string } };

interface Pending {
  options: SendMailOptions;
  resolve: (message: Buffer) => void;
  reject: (err: Error) => void;
}

/**
 * Composing a mail's MIME message (its headers, the quoted-printable of its HTML and text, the multipart around them)
 * on a worker thread: the second core of the small machines Mesa runs on, while the main thread claims, renders and
 * speaks SMTP. Composing is most of what sending a mail costs the process (docs/performance.md), and on the main
 * thread it would also delay the mailbox poller and the status page behind a burst of notices.
 *
 * What the thread composes is the very message nodemailer would write to the SMTP connection (./compose.ts), sent
 * then as it is (`raw`, with its envelope). A mail with files is not sent there: nodemailer streams each file from
 * disk into the connection as it sends, so a 10 MB attachment never becomes a Buffer, let alone two.
 *
 * The thread is for bursts: the dispatcher asks for it when it holds more mail than two rounds of its SMTP connections,
 * composes a new case's few mails itself (`here`, without waiting for a thread to start), and the thread ends after
 * IDLE_MS without work, so a quiet desk does not keep a second V8 isolate (≈ 14 MB) in memory.
 *
 * Nothing a customer wrote is parsed here (the HTML is our template's, filled and escaped before), so a thread that
 * says nothing for STUCK_MS while it has mail is taken for stuck and stopped. If the thread cannot start (running the
 * sources: Node 20 cannot start a TypeScript file as a thread), or COMPOSE_WORKER=false, mail is composed on the
 * calling thread; if it ends (or is stopped) while composing, what it had is composed here and the next mail starts a
 * new one: slower, never lost.
 */
export class ComposeThread {
  private worker?: Worker;
  private ready = false;
  private threadless: boolean;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private idle?: NodeJS.Timeout;
  private stuck?: NodeJS.Timeout;
  /** Mails composed on the thread, and on the calling thread. */
  composedThere = 0;
  composedHere = 0;

  /** `workerUrl`: the thread's body, by default the built compose-worker.js beside the running code (src/paths.ts).
   * `idleMs`, `stuckMs`: IDLE_MS, STUCK_MS. */
  constructor(
    private readonly opts: { logger: Logger; enabled?: boolean; workerUrl?: URL; idleMs?: number; stuckMs?: number },
  ) {
    this.threadless = opts.enabled === false;
  }

  /**
   * What the transport sends for `mail`: the message composed on the thread with its envelope, or, for mail with
   * files, the options as they are (nodemailer composes them as it sends, streaming the files).
   */
  async outgoing(mail: OutgoingMail, opts: { here?: boolean } = {}): Promise<SendMailOptions> {
    if (mail.attachments?.length) return mail;
    const { envelope, ...options } = mail;
    return { envelope, raw: await this.compose(options, opts) };
  }

  /** `here`: on the calling thread, for a mail or two (the thread is for bursts: it has to start, and it costs its
   * own memory while it runs). */
  compose(options: SendMailOptions, opts: { here?: boolean } = {}): Promise<Buffer> {
    const worker = opts.here ? undefined : this.thread();
    if (!worker) return this.here(options);
    clearTimeout(this.idle);
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { options, resolve, reject });
      worker.postMessage({ id, options } satisfies ComposeRequest);
      worker.ref();
      this.stuck ??= this.watch(worker);
    });
  }

  /** Ends the thread; a later mail starts another. What it had is not composed: nobody sends it now. */
  async close(): Promise<void> {
    clearTimeout(this.idle);
    this.unwatch();
    const worker = this.worker;
    this.worker = undefined;
    const left = [...this.pending.values()];
    this.pending.clear();
    for (const p of left) p.reject(new Error('el despachador se detuvo antes de enviar este correo'));
    await worker?.terminate();
  }

  /** A thread is running (started by a burst, not yet ended by IDLE_MS without work). */
  get running(): boolean {
    return this.worker !== undefined;
  }

  private here(options: SendMailOptions): Promise<Buffer> {
    this.composedHere++;
    return composeMessage(options);
  }

  /** The running thread, started if there is none; undefined when mail is composed on this thread. */
  private thread(): Worker | undefined {
    if (this.threadless) return undefined;
    if (this.worker) return this.worker;
    let worker: Worker;
    try {
      worker = new Worker(this.opts.workerUrl ?? COMPOSE_WORKER_URL, { stdout: false, stderr: false });
    } catch (err) {
      this.giveUp(err);
      return undefined;
    }
    this.ready = false;
    worker.on('message', (reply: ComposeReply | { ready: true }) => {
      if (!('ready' in reply)) this.answer(reply);
      else if (worker === this.worker) this.ready = true;
    });
    // Before it said it is ready, a failure is a thread that cannot start (a broken install, the sources): give up on
    // it. After, it ended while composing: what it had is composed here, and the next mail starts another.
    worker.on('error', (err) => {
      if (worker !== this.worker) return;
      if (!this.ready) return this.giveUp(err);
      this.opts.logger.error({ err }, 'el hilo de composición de correo falló');
    });
    worker.on('exit', (code) => {
      if (worker !== this.worker) return;
      this.worker = undefined;
      this.unwatch();
      if (this.pending.size)
        this.opts.logger.warn(
          { code, mails: this.pending.size },
          'el hilo de composición terminó con correo pendiente; ese correo se compone en el hilo principal',
        );
      this.composeLeftHere();
    });
    // Idle, it must not keep `mesa outbox --send` or a test alive; composing, it does.
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private answer(reply: ComposeReply): void {
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    this.unwatch();
    if (this.pending.size && this.worker) this.stuck = this.watch(this.worker);
    if (!this.pending.size) this.rest();
    if ('message' in reply) {
      this.composedThere++;
      p.resolve(asBuffer(reply.message));
    } else {
      // Its code as nodemailer gave it (EMESSAGE: the mail itself is wrong), for the dispatcher's classifySmtpError.
      p.reject(Object.assign(new Error(reply.error.message), { code: reply.error.code }));
    }
  }

  /** Stops `worker` if it answers nothing for STUCK_MS while it has mail (its exit composes that mail here). */
  private watch(worker: Worker): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.stuck = undefined;
      if (worker !== this.worker || !this.pending.size) return;
      this.opts.logger.warn({ mails: this.pending.size }, 'el hilo de composición no responde: se detiene');
      void worker.terminate();
    }, this.opts.stuckMs ?? STUCK_MS);
    timer.unref();
    return timer;
  }

  private unwatch(): void {
    clearTimeout(this.stuck);
    this.stuck = undefined;
  }

  /** Nothing to compose: the thread no longer keeps the process alive, and ends after IDLE_MS without work. */
  private rest(): void {
    const worker = this.worker;
    worker?.unref();
    clearTimeout(this.idle);
    this.idle = setTimeout(() => {
      if (worker !== this.worker || this.pending.size) return;
      this.worker = undefined;
      void worker?.terminate();
    }, this.opts.idleMs ?? IDLE_MS);
    this.idle.unref();
  }

  private giveUp(err: unknown): void {
    this.opts.logger.warn(
      { err },
      'no se pudo iniciar el hilo de composición; el correo se compone en el hilo principal',
    );
    const worker = this.worker;
    this.worker = undefined;
    this.threadless = true;
    void worker?.terminate();
    this.composeLeftHere();
  }

  /** The mails the thread had when it ended, composed on this thread. */
  private composeLeftHere(): void {
    const left = [...this.pending.values()];
    this.pending.clear();
    for (const p of left) this.here(p.options).then(p.resolve, p.reject);
  }
}
