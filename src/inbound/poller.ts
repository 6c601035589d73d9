import type { ImapFlow } from 'imapflow';
import type { MailboxConfig } from '../config.ts';
import { SIZE_CHUNK, batchCountFor } from './imap-batches.ts';
import { createImapClient, describeImapError } from './imap-client.ts';
import { ImapCredentials } from './imap-credentials.ts';
import { LeasedMailboxReader, type PollerDeps, type PollerOptions } from './mailbox-reader.ts';
import { readRound, type RoundContext, type RoundResult } from './mailbox-round.ts';

/**
 * The IMAP adapter: one isolated loop per configured mailbox (support, fallback). It only translates between the
 * server and IngestService; whether a mail opens a case is decided there. This file holds the IMAP side of the
 * loop: connecting and reconnecting, waiting for news (IDLE or the poll interval). The lease and the backoff are
 * mailbox-reader.ts, shared with Microsoft Graph; one pass over the mailbox is mailbox-round.ts; cutting the new
 * UIDs into batches and fetching them is imap-batches.ts.
 *
 * Guarantees (docs/ARCHITECTURE.md, «Garantías»):
 * - UIDs are taken in ascending order and `mailbox_state.last_uid` only moves past a mail whose ingest returned a
 *   final outcome; it is written once per fetched batch, so a crash re-reads at most that batch, whose mails the
 *   ledger then recognises.
 * - The mail is moved to the processed folder (when configured) only after its effect committed. \Seen is never
 *   touched: FETCH uses BODY.PEEK[] (RFC 3501 §6.4.5), because people read the support mailbox too.
 * - A UIDVALIDITY change (RFC 3501 §2.3.1.1) restarts from UID 1; the new source keys are unknown to the ledger,
 *   but the content hash is not, so every mail already acted on is recorded as a duplicate and nothing doubles.
 * - `tempfail` (database or disk trouble) ends the round; it is retried with exponential backoff.
 * - One mailbox failing (bad password, server down) is logged, recorded in mailbox_state and retried with
 *   backoff; it shares nothing with the other mailbox's loop.
 * - Several instances on one PostgreSQL: a mailbox is read only while this process holds its lease
 *   (src/db/leases.ts); if the lease is lost, the loop stops at the next mail and waits to get it back.
 */

export class MailboxPoller extends LeasedMailboxReader {
  private client?: ImapFlow;
  /** Set by the server's EXISTS (new mail) during a round, so the wait after it is skipped. */
  private dirty = false;
  private wake?: () => void;
  /** The connection whose news (EXISTS) or end may cut the current wait short: set only while waiting for news. */
  private idleOn?: ImapFlow;
  /** True while connecting/logging in: stop() may then drop the connection, there is no mail in hand. */
  private connecting = false;
  private readonly batchCount: number;
  private readonly sizeChunk: number;
  /** The OAuth2 token to log in with, and whether a newer one appeared since (then: reconnect with it). */
  private readonly credentials: ImapCredentials;

  constructor(deps: PollerDeps, mailbox: MailboxConfig, opts: PollerOptions = {}) {
    super(deps, mailbox, opts, 'poller');
    this.batchCount = opts.batchCount ?? batchCountFor(deps.db);
    this.sizeChunk = opts.sizeChunk ?? SIZE_CHUNK;
    this.credentials = new ImapCredentials(mailbox, deps.tokens, () => this.wake?.());
  }

  protected override interrupt(): void {
    this.wake?.();
    if (this.connecting) this.client?.close();
  }

  protected override stopped(): void {
    this.credentials.dispose();
  }

  protected async whileLeased(lease: AbortSignal): Promise<void> {
    const onLost = () => this.wake?.();
    lease.addEventListener('abort', onLost, { once: true });
    // The token is refreshed by the instance that reads the mailbox, and only while it does.
    this.credentials.keepFresh(lease);
    try {
      await this.loop();
    } finally {
      lease.removeEventListener('abort', onLost);
    }
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.halted) {
      let token: string | undefined;
      try {
        token = await this.credentials.forConnect();
      } catch (err) {
        // No usable token (the grant is gone, the provider is down): recorded, and tried again after the backoff or as
        // soon as a new token is stored (`mesa mailbox login`), whichever comes first.
        const e = describeImapError(err);
        const wait = this.backoff(failures++);
        this.log.error({ err: e, code: e.code, retryInMs: wait }, 'el buzón no tiene un token de acceso válido');
        await this.recordError(e.message);
        if (!this.credentials.changed) await this.pause(wait);
        continue;
      }
      const client = (this.opts.createClient ?? createImapClient)(this.mailbox, this.deps.logger, token);
      this.client = client;
      client.on('error', (err: Error) => this.log.warn({ err: describeImapError(err) }, 'error de la conexión IMAP'));
      // News and the end of this connection cut short the wait for news on it (waitForNews), never a backoff: a
      // connection that failed announces its close a moment later, and waking the backoff then made a busy loop.
      client.on('exists', () => {
        this.dirty = true;
        if (this.idleOn === client) this.wake?.();
      });
      client.on('close', () => {
        if (this.idleOn === client) this.wake?.();
      });
      try {
        this.connecting = true;
        try {
          await client.connect();
        } finally {
          this.connecting = false;
        }
        if (this.halted) break;
        this.log.info(
          { host: this.mailbox.host, user: this.mailbox.user, idle: client.capabilities.has('IDLE') },
          'conectado al buzón',
        );
        if (this.mailbox.processedFolder) await this.ensureFolder(client, this.mailbox.processedFolder);
        let tempfails = 0;
        while (!this.halted && client.usable && !this.credentials.changed) {
          const round = await this.round(client);
          if (round === 'stopped') break;
          if (round === 'tempfail') {
            await this.pause(this.backoff(tempfails++));
            continue;
          }
          tempfails = 0;
          failures = 0;
          await this.waitForNews(client);
        }
        if (this.credentials.changed && client.usable) {
          this.log.info('token nuevo: se vuelve a conectar con él');
          continue;
        }
        if (!this.halted) throw new Error('el servidor cerró la conexión');
      } catch (err) {
        if (this.halted && !client.usable) break;
        const e = describeImapError(err);
        if (e.code === 'IMAP_AUTH_FAILED') this.credentials.loginRefused();
        const wait = this.backoff(failures++);
        this.log.error(
          { err: e, code: e.code, retryInMs: wait, attempt: failures },
          'no se pudo leer el buzón; se reintentará',
        );
        await this.recordError(e.message);
        await this.pause(wait);
      } finally {
        this.client = undefined;
        if (client.usable) await client.logout().catch(() => client.close());
        else client.close();
      }
    }
    this.log.info('lector del buzón detenido');
  }

  /** One pass over the mailbox (mailbox-round.ts); news announced from here on count for the wait after it. */
  private round(client: ImapFlow): Promise<RoundResult> {
    this.dirty = false;
    return readRound(this.roundContext, client);
  }

  private get roundContext(): RoundContext {
    return {
      db: this.deps.db,
      ingest: this.deps.ingest,
      mailbox: this.mailbox,
      log: this.log,
      halted: () => this.halted,
      batchCount: this.batchCount,
      sizeChunk: this.sizeChunk,
    };
  }

  /** Waits for the server to announce new mail (IDLE, RFC 2177) or for the poll interval, whichever is first. */
  private async waitForNews(client: ImapFlow): Promise<void> {
    // A connection that closed before this point fired its 'close' while nobody was waiting (`wake` unset): without
    // this check the poller would sleep the whole poll interval before noticing, and a server that went away right
    // after a round would be recorded as down up to IMAP_POLL_SECONDS late.
    if (this.dirty || this.halted || !client.usable || this.credentials.changed) return;
    if (client.capabilities.has('IDLE')) {
      // Resolves when IDLE is broken by the next command; if it fails because the connection is gone, stop waiting.
      client.idle().catch((err: unknown) => {
        this.log.debug({ err }, 'IDLE terminó con error');
        if (!client.usable && this.idleOn === client) this.wake?.();
      });
    }
    this.idleOn = client;
    try {
      await this.pause(this.mailbox.pollSeconds * 1000);
    } finally {
      this.idleOn = undefined;
    }
  }

  private async pause(ms: number): Promise<void> {
    if (this.halted) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
    this.wake = undefined;
  }

  private async ensureFolder(client: ImapFlow, folder: string): Promise<void> {
    const list = await client.list();
    if (list.some((f) => f.path === folder)) return;
    await client.mailboxCreate(folder);
    this.log.info({ folder }, 'carpeta de procesados creada');
  }
}
