import type { MailboxConfig } from '../config.ts';
import { isMesaError } from '../errors.ts';
import { GraphClient, GraphError } from '../mailboxes/graph-client.ts';
import { sleep } from '../mailboxes/sleep.ts';
import { batchCountFor } from './imap-batches.ts';
import { processedFolderId, readGraphRound } from './graph-round.ts';
import { LeasedMailboxReader, type PollerDeps, type PollerOptions } from './mailbox-reader.ts';

/**
 * The Microsoft Graph adapter (SUPPORT_MAILBOX_TRANSPORT=graph): the same life as the IMAP poller (poller.ts) for a
 * mailbox read over Graph's REST API. One isolated loop per mailbox, run only while this process holds the mailbox's
 * lease (which is also when its token is refreshed); one pass is graph-round.ts, then a wait of IMAP_POLL_SECONDS
 * (Graph's change notifications need a public HTTPS endpoint Mesa may not have).
 *
 * Failures never stop the other mailbox and never spin: throttling is waited out inside the client (Retry-After); a
 * mailbox without a usable token (needs_reauth) waits for the next sign-in or the backoff, whichever comes first;
 * anything else is recorded in mailbox_state and retried with exponential backoff and jitter.
 */
export class GraphMailboxReader extends LeasedMailboxReader {
  private folderId?: string;

  constructor(deps: PollerDeps, mailbox: MailboxConfig, opts: PollerOptions = {}) {
    super(deps, mailbox, opts, 'graph-reader');
  }

  protected async whileLeased(lease: AbortSignal): Promise<void> {
    // The token is refreshed by the instance that reads the mailbox, and only while it does.
    if (this.deps.tokens?.manages(this.mailbox.name)) void this.deps.tokens.keepFresh(this.mailbox.name, lease);
    await this.loop(AbortSignal.any([this.stopController.signal, lease]));
  }

  private async loop(signal: AbortSignal): Promise<void> {
    const tokens = this.deps.tokens;
    if (!tokens || !this.mailbox.graph) throw new Error('buzón en Microsoft Graph sin almacén de tokens OAuth2');
    const client = new GraphClient({
      settings: this.mailbox.graph,
      mailbox: this.mailbox.name,
      tokens,
      log: this.log,
      signal,
    });
    const pageSize = this.opts.batchCount ?? Math.min(50, batchCountFor(this.deps.db));
    this.log.info(
      { user: this.mailbox.graph.user, folder: this.mailbox.mailbox },
      'lector de Microsoft Graph iniciado',
    );
    let failures = 0;
    while (!this.halted) {
      let wait = this.mailbox.pollSeconds * 1000;
      let untilNewToken = false;
      try {
        if (this.mailbox.processedFolder)
          this.folderId ??= await processedFolderId(client, this.mailbox.processedFolder, this.log);
        const round = await readGraphRound({
          db: this.deps.db,
          ingest: this.deps.ingest,
          mailbox: this.mailbox,
          log: this.log,
          client,
          pageSize,
          halted: () => this.halted,
          processedFolderId: this.folderId,
        });
        if (round === 'stopped') break;
        if (round === 'tempfail') wait = this.backoff(failures++);
        else failures = 0;
      } catch (err) {
        if (this.halted) break;
        untilNewToken = isMesaError(err, 'MAILBOX_SIGN_IN_REQUIRED');
        wait = Math.max(this.backoff(failures++), err instanceof GraphError ? (err.retryAfterMs ?? 0) : 0);
        const message = (err as Error).message ?? String(err);
        this.log.error(
          { err, code: (err as { code?: string }).code, retryInMs: wait },
          untilNewToken
            ? 'el buzón no tiene un token de acceso válido'
            : 'no se pudo leer el buzón por Microsoft Graph; se reintentará',
        );
        await this.recordError(message);
      }
      // Waiting for a sign-in: a token stored by `mesa mailbox login` (any process) ends the wait at once.
      await sleep(wait, signal, untilNewToken ? (fn) => tokens.onChange(this.mailbox.name, fn) : undefined);
    }
    this.log.info('lector del buzón detenido');
  }
}
