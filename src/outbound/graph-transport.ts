import type { SendMailOptions } from 'nodemailer';
import type { GraphSettings } from '../config-graph.ts';
import type { Logger } from '../logger.ts';
import { composeMessage } from './compose.ts';
import { GraphClient, GraphError, type GraphTokenSource } from '../mailboxes/graph-client.ts';

/**
 * Mail out through Microsoft Graph (SUPPORT_MAILBOX_TRANSPORT=graph and no SMTP_HOST): POST /users/{user}/sendMail
 * with the whole MIME message, base64, as `text/plain`. Graph then sends our bytes as they are, so the signed
 * Message-ID, In-Reply-To/References and our own headers reach the customer as over SMTP; a JSON message would have
 * Exchange write its own. The message is the one SMTP would carry (./compose.ts), composed on the compose thread or
 * here from the dispatcher's options.
 *
 * Errors take the outbox's two ways (src/outbound/dispatcher.ts): throttling, 5xx and a refused token are temporary
 * (the row waits, at least what Retry-After asked); a request Graph refuses as such (400 ErrorInvalidRecipients, 413
 * too large) is permanent, as a 5xx SMTP reply.
 */
/** A MailTransport (./transport.ts builds it; not imported here, which would be a cycle). */
export class GraphTransport {
  readonly kind = 'graph' as const;
  private readonly client: GraphClient;
  private readonly closing = new AbortController();

  constructor(settings: GraphSettings, tokens: GraphTokenSource, log: Logger) {
    // Sends wait out at most one throttling answer each: the outbox's own backoff (and Retry-After) does the rest.
    this.client = new GraphClient({
      settings,
      mailbox: 'support',
      tokens,
      log: log.child({ component: 'graph-sender' }),
      signal: this.closing.signal,
      throttleWaits: 1,
    });
  }

  async send(msg: SendMailOptions & { rowId: number }): Promise<{ response: string }> {
    const { rowId: _rowId, ...options } = msg;
    const composed = await composeMessage(options);
    try {
      const res = await this.client.request(this.client.userUrl('/sendMail'), {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: composed.toString('base64'),
      });
      return { response: `${res.status} ${res.statusText || 'Accepted'}` };
    } catch (err) {
      throw Object.assign(err instanceof Error ? err : new Error(String(err)), {
        failure: failureOf(err),
        retryAfterMs: err instanceof GraphError ? err.retryAfterMs : undefined,
      });
    }
  }

  close(): void {
    this.closing.abort();
  }
}

/** The dispatcher's SendFailure (./dispatcher.ts). */
function failureOf(err: unknown): 'temporary' | 'permanent' {
  if (!(err instanceof GraphError)) return 'temporary'; // no answer at all: network, DNS, the token store
  if (err.status === 401 || err.status === 403 || err.status === 408 || err.status === 429 || err.status >= 500)
    return 'temporary';
  return 'permanent';
}
