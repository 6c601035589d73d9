import type { SendMailOptions } from 'nodemailer';
import PQueue from 'p-queue';
import type { Knex } from 'knex';
import type { Config } from '../config.ts';
import { defaultHolder } from '../db/holders.ts';
import * as repo from '../db/repos/outbox.ts';
import type { Logger } from '../logger.ts';
import type { BlobStore } from '../storage/blobs.ts';
import { ComposeThread } from './compose-thread.ts';
import { outgoingMail } from './outgoing.ts';
import type { TemplateRenderer } from './templates.ts';
import { createTransport, type MailTransport, type SmtpTokenSource } from './transport.ts';

/**
 * Sends outbox rows. Each row is claimed (a lease, FOR UPDATE SKIP LOCKED on PostgreSQL) before it is sent,
 * so two instances never send the same row; sent → `sent`; a temporary failure (connection refused, timeout,
 * 4xx) → back to `pending` with exponential backoff and jitter; a permanent one (5xx) or too many attempts →
 * `dead`, which `mesa outbox --retry` revives. Sent rows are recorded together, by the next claim's transaction
 * (one per few mails instead of one per mail). If the process dies after the SMTP server took a mail but before the
 * row says so (a claim's worth of mail at most), the row is sent again — with the same Message-ID, Date and bytes,
 * so receivers that de-duplicate on Message-ID show it once. Automatic mail whose recipient hard-bounced after it was
 * enqueued is held at the claim, with the bounce's reason (repo.claimDue), and logged.
 */
export interface DispatcherOptions {
  db: Knex;
  config: Config;
  blobs: BlobStore;
  logger: Logger;
  transport?: MailTransport;
  /** OAuth2 access tokens of the support mailbox, for SMTP_AUTH=oauth2 (src/mailboxes/). */
  tokens?: SmtpTokenSource;
  /** Renders each mail as it is sent (the outbox stores the template and its data): the app's one renderer. */
  renderer: TemplateRenderer;
  clock?: () => number;
  /** How long a claim holds before another dispatcher may take the row over. */
  leaseMs?: number;
  concurrency?: number;
  /** How long a sent mail may wait to be recorded when no claim comes first (SETTLE_MS). */
  settleMs?: number;
  /** The compose thread's body, when not the built one beside the running code (tests). */
  composeWorkerUrl?: URL;
  /** Test seam: runs after the SMTP server accepted a mail and before the row is marked sent. */
  afterSend?: (row: repo.OutboxRow) => Promise<void> | void;
}

export type SendFailure = 'temporary' | 'permanent';

/** RFC 5321 §4.2.1: 4yz transient, 5yz permanent; no answer at all (refused, reset, DNS, timeout) is transient. */
export function classifySmtpError(err: unknown): SendFailure {
  const e = err as { responseCode?: number; code?: string; failure?: SendFailure };
  // A transport that already knows (Microsoft Graph's, src/outbound/graph-transport.ts).
  if (e?.failure === 'temporary' || e?.failure === 'permanent') return e.failure;
  // Refused credentials (a password changed, an OAuth2 token being renewed) say nothing about the mail: it waits.
  if (e?.code === 'EAUTH') return 'temporary';
  if (typeof e?.responseCode === 'number') return e.responseCode >= 500 ? 'permanent' : 'temporary';
  if (e?.code === 'ENOENT' || e?.code === 'EMESSAGE') return 'permanent';
  return 'temporary';
}

/** How many mails a dispatcher holds claimed per sending slot: the one being sent and the next ones. */
const CLAIM_AHEAD = 4;
/** Mail in hand up to this many rounds of the connections is composed on the main thread; more is a burst. */
const BURST_ROUNDS = 2;
/** How long a sent mail waits to be recorded when no claim comes first (the last one in hand: not at all). */
const SETTLE_MS = 25;

export class Dispatcher {
  readonly transport: MailTransport;
  private readonly log: Logger;
  private readonly queue: PQueue;
  /** host:pid:tag (src/db/holders.ts): a dispatcher whose process has ended leaves its claims to the next one. */
  private readonly owner = defaultHolder();
  /** Rows this dispatcher marked sent: how much of a drain() actually left (`mesa outbox --send`), not what another
   * instance sent meanwhile. */
  delivered = 0;
  private readonly now: () => number;
  /** Where each mail's MIME message is composed (src/outbound/compose-thread.ts). */
  readonly composer: ComposeThread;
  /** What outgoingMail() needs of the options, once. */
  private readonly mailDeps: Parameters<typeof outgoingMail>[1];
  /** A bounce never stops mail to the desk (src/outbound/bounce-effects.ts), not even a stop recorded before. */
  private get deskAddresses(): readonly string[] {
    const { config } = this.o;
    return [config.supportAddress, ...(config.fallbackAddress ? [config.fallbackAddress] : []), ...config.consultants];
  }
  /** Rows claimed and queued here but not being sent yet: handed back when the dispatcher stops. */
  private readonly waiting = new Set<number>();
  /** Rows the SMTP server accepted that the outbox does not record yet: the next claim or settle() records them. */
  private sent: number[] = [];
  private settleTimer?: NodeJS.Timeout;
  private readonly settling = new Set<Promise<void>>();
  private timer?: NodeJS.Timeout;
  private running = false;
  private ticking?: Promise<number>;
  private again = false;

  constructor(private readonly o: DispatcherOptions) {
    this.log = o.logger.child({ component: 'outbox' });
    this.transport = o.transport ?? createTransport(o.config, o.logger, o.tokens);
    this.queue = new PQueue({ concurrency: o.concurrency ?? o.config.outbound.smtp?.poolSize ?? 2 });
    this.now = o.clock ?? Date.now;
    const { config } = o;
    this.composer = new ComposeThread({
      logger: this.log,
      enabled: config.outbound.composeWorker,
      workerUrl: o.composeWorkerUrl,
    });
    const keys = { secretKey: config.secretKey, publicUrl: config.publicUrl };
    this.mailDeps = { renderer: o.renderer, keys, blobs: o.blobs, envelopeFrom: config.supportAddress };
  }

  start(): this {
    if (this.running) return this;
    this.running = true;
    this.log.info({ transport: this.transport.kind }, 'despachador de correo iniciado');
    this.schedule(0);
    return this;
  }

  /** Stops claiming, hands back the claimed mail not yet begun, finishes the mail in hand, closes the SMTP pool. */
  async stop(): Promise<void> {
    const wasRunning = this.running;
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking?.catch(() => 0);
    const unsent = [...this.waiting];
    this.queue.clear();
    this.waiting.clear();
    // Handed back as if never claimed, so that another instance (or the next start) sends it without waiting out
    // the claim.
    await repo
      .releaseClaims(this.o.db, unsent, this.owner)
      .catch((err) =>
        this.log.warn({ err, outbox: unsent }, 'no se pudo devolver el correo tomado; se enviará al vencer'),
      );
    await this.queue.onIdle();
    await this.settle();
    this.transport.close();
    await this.composer.close();
    if (wasRunning) this.log.info('despachador de correo detenido');
  }

  /** Something was just committed to the outbox: look now rather than at the next poll. */
  kick(): void {
    if (!this.running) return;
    if (this.ticking) this.again = true;
    else this.schedule(0);
  }

  /** Sends everything due now and returns how many rows were handled (CLI, demo, tests). */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.tickOnce();
      await this.queue.onIdle();
      if (n === 0) {
        await this.settle();
        return total;
      }
      total += n;
    }
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.loop(), ms);
  }

  private async loop(): Promise<void> {
    if (!this.running) return;
    let claimed = 0;
    try {
      this.ticking = this.tickOnce();
      claimed = await this.ticking;
      // Claim again when fewer mails wait here than there are sending slots: a slot never waits for a claim, and a
      // claim is one transaction for several mails, not one per mail.
      await this.queue.onSizeLessThan(this.queue.concurrency);
    } catch (err) {
      this.log.error({ err }, 'no se pudo leer la bandeja de salida; se reintentará');
    } finally {
      this.ticking = undefined;
    }
    const soon = claimed > 0 || this.again;
    this.again = false;
    this.schedule(soon ? 0 : this.o.config.outbound.pollMs);
  }

  private async tickOnce(): Promise<number> {
    const room = this.queue.concurrency * CLAIM_AHEAD - this.queue.size - this.queue.pending;
    const sent = this.takeSent();
    const { due, held, settled } = await repo
      .claimDue(this.o.db, {
        now: this.now(),
        limit: Math.max(room, 0),
        owner: this.owner,
        leaseMs: this.o.leaseMs ?? 5 * 60_000,
        neverStopped: this.deskAddresses,
        sent,
      })
      .catch((err) => {
        this.sent.unshift(...sent);
        throw err;
      });
    this.delivered += settled;
    for (const h of held)
      this.log.warn(
        { outbox: h.id, kind: h.kind, ticketId: h.ticketId, reason: h.reason },
        'correo automático retenido al enviarlo: la dirección rebotó después de encolarlo',
      );
    // Each mail is composed as soon as it is claimed, while the ones before it are being sent: its sending slot then
    // finds it ready. On the compose thread for a burst, more mail in hand than BURST_ROUNDS rounds of connections;
    // a new case (its confirmation and a notice per consultant) is composed here, without starting a thread for it.
    // A failure waits for the slot, which fails the attempt.
    const here = due.length + this.queue.size + this.queue.pending <= this.queue.concurrency * BURST_ROUNDS;
    for (const row of due) {
      this.waiting.add(row.id);
      const prepared = outgoingMail(row, this.mailDeps).then((mail) => this.composer.outgoing(mail, { here }));
      prepared.catch(() => undefined);
      void this.queue
        .add(() => {
          this.waiting.delete(row.id);
          return this.send(row, prepared);
        })
        .catch((err) => this.log.error({ err, outbox: row.id }, 'envío interrumpido'));
    }
    return due.length + held.length;
  }

  private async send(row: repo.OutboxRow, prepared: Promise<SendMailOptions>): Promise<void> {
    const fields = {
      outbox: row.id,
      kind: row.kind,
      ticketId: row.ticketId,
      messageId: row.messageId,
      attempt: row.attempts,
    };
    try {
      await this.transport.send({ rowId: row.id, ...(await prepared) });
    } catch (err) {
      const failure = classifySmtpError(err);
      const why = String((err as Error)?.message ?? err).slice(0, 500);
      if (failure === 'permanent' || row.attempts >= this.o.config.outbound.maxAttempts) {
        await repo.markDead(this.o.db, row.id, this.owner, why);
        this.log.error({ ...fields, err }, 'correo rechazado de forma permanente: queda en la bandeja de muertos');
      } else {
        const { retryBaseMs, retryMaxMs } = this.o.config.outbound;
        const backoff = Math.min(retryMaxMs, retryBaseMs * 2 ** Math.max(0, row.attempts - 1));
        // Never sooner than the server asked (Graph's Retry-After on a 429).
        const delay = Math.max(
          Math.round(backoff * (0.8 + Math.random() * 0.4)),
          (err as { retryAfterMs?: number })?.retryAfterMs ?? 0,
        );
        await repo.markRetry(this.o.db, row.id, this.owner, this.now() + delay, why);
        this.log.warn({ ...fields, delayMs: delay, reason: why }, 'fallo temporal al enviar: se reintentará');
        // Wake up for the retry even if nothing else arrives.
        if (this.running) setTimeout(() => this.kick(), delay + 5).unref();
      }
      return;
    }
    await this.o.afterSend?.(row);
    this.sent.push(row.id);
    this.log.info(fields, 'correo enviado');
    // The last mail in hand is recorded now; the others wait for the next claim, or SETTLE_MS.
    if (this.queue.size === 0 && this.queue.pending <= 1) void this.settle();
    else this.settleTimer ??= setTimeout(() => void this.settle(), this.o.settleMs ?? SETTLE_MS);
  }

  private takeSent(): number[] {
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.settleTimer = undefined;
    const ids = this.sent;
    this.sent = [];
    return ids;
  }

  /** Records as sent what the SMTP server accepted since the last claim; returns once every recording has ended. */
  private async settle(): Promise<void> {
    const ids = this.takeSent();
    if (ids.length) {
      const done = repo
        .markSent(this.o.db, ids, this.owner, this.now())
        .then((n) => void (this.delivered += n))
        .catch((err) => {
          this.sent.unshift(...ids);
          this.log.warn({ err, outbox: ids }, 'no se pudo anotar el correo enviado; se reintentará');
          if (this.running) this.settleTimer ??= setTimeout(() => void this.settle(), this.o.config.outbound.pollMs);
        })
        .finally(() => this.settling.delete(done));
      this.settling.add(done);
    }
    await Promise.all(this.settling);
  }
}
