import type { ImapFlow } from 'imapflow';
import type { Knex } from 'knex';
import type { MailboxConfig } from '../config.ts';
import { whileMailboxLease, type LeaseOptions } from '../db/leases.ts';
import { stateKey } from '../db/repos/mailbox-state.ts';
import type { Logger } from '../logger.ts';
import type { MailboxTokenSource } from './imap-credentials.ts';
import { recordMailboxError, type RoundIngest } from './mailbox-round.ts';

export interface PollerDeps {
  db: Knex;
  ingest: RoundIngest;
  logger: Logger;
  /** OAuth2 tokens (IMAP_AUTH=oauth2, and every mailbox on Microsoft Graph), kept by src/mailboxes/. */
  tokens?: MailboxTokenSource;
}

export interface PollerOptions {
  /** Exponential backoff after a failure: first wait, cap. Defaults 1 s and 5 min. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Builds the IMAP client (tests never replace it; it exists so the client config lives in one place). */
  createClient?: (mb: MailboxConfig, logger: Logger, accessToken?: string) => ImapFlow;
  /** Mailbox lease timings and holder name (several instances on PostgreSQL); defaults in src/db/leases.ts. */
  lease?: LeaseOptions;
  /** Most mails fetched and ingested together (one FETCH or Graph page, one transaction); default batchCountFor(db). */
  batchCount?: number;
  /** UIDs whose sizes are asked in one FETCH (default SIZE_CHUNK; tests use fewer). */
  sizeChunk?: number;
}

/**
 * The life both mailbox readers share, whatever the transport (IMAP in poller.ts, Microsoft Graph in
 * graph-poller.ts): one isolated loop per mailbox, run only while this process holds the mailbox's lease (several
 * instances on one PostgreSQL read each mailbox once); stopped when asked or when another instance takes the lease
 * over, always after the mail in hand; failures retried with exponential backoff and jitter, and recorded in
 * mailbox_state for `mesa mailbox status` and /healthz.
 */
export abstract class LeasedMailboxReader {
  protected readonly log: Logger;
  private stopping = false;
  private running?: Promise<void>;
  protected readonly stopController = new AbortController();
  /** Aborts when another instance has taken this mailbox's lease over. */
  private lease?: AbortSignal;
  private readonly backoffInitial: number;
  private readonly backoffMax: number;

  constructor(
    protected readonly deps: PollerDeps,
    readonly mailbox: MailboxConfig,
    protected readonly opts: PollerOptions,
    component: string,
  ) {
    this.log = deps.logger.child({ component, mailbox: stateKey(mailbox) });
    this.backoffInitial = opts.backoffInitialMs ?? 1000;
    this.backoffMax = opts.backoffMaxMs ?? 5 * 60_000;
  }

  start(): this {
    this.running ??= this.leased().catch((err) =>
      this.log.fatal({ err }, 'el lector del buzón terminó por un error inesperado'),
    );
    return this;
  }

  /** Finishes the mail in hand (its ingest, its move), then stops. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopController.abort();
    this.interrupt();
    await this.running;
    this.stopped();
  }

  /** The loop, while this process holds the lease; it returns once `halted` turns true. */
  protected abstract whileLeased(lease: AbortSignal): Promise<void>;

  /** Cuts a wait or a connection attempt short when stop() is called (nothing in hand then). */
  protected interrupt(): void {}

  /** Releases what the reader holds once its loop has ended for good. */
  protected stopped(): void {}

  /** Stopping, or no longer holding the lease: finish the mail in hand and leave the loop. */
  protected get halted(): boolean {
    return this.stopping || this.lease?.aborted === true;
  }

  /** Runs the loop while holding the mailbox's lease, and waits for it again if it is lost. */
  private async leased(): Promise<void> {
    await whileMailboxLease(
      this.deps.db,
      stateKey(this.mailbox),
      async (lease) => {
        this.lease = lease;
        try {
          await this.whileLeased(lease);
        } finally {
          this.lease = undefined;
        }
      },
      { ...this.opts.lease, signal: this.stopController.signal, logger: this.deps.logger },
    );
  }

  protected backoff(attempt: number): number {
    const base = Math.min(this.backoffMax, this.backoffInitial * 2 ** Math.min(attempt, 20));
    return Math.round(base * (0.75 + Math.random() * 0.5)); // jitter, so two failing mailboxes do not beat in step
  }

  protected recordError(message: string): Promise<void> {
    return recordMailboxError({ db: this.deps.db, mailbox: this.mailbox, log: this.log }, message);
  }
}
