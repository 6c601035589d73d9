import type { GraphSettings } from '../config-graph.ts';
import { MesaError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { MailboxName } from './explain.ts';
import { sleep } from './sleep.ts';

/**
 * Microsoft Graph over plain REST with Node's own fetch, for the mailbox reader (src/inbound/graph-poller.ts), the
 * sender (src/outbound/graph-transport.ts) and `mesa mailbox doctor`. Mesa uses four calls (delta, $value, move,
 * sendMail): the official SDK would bring its middleware chain and typings for the whole API for that, and its
 * retry handler would wait on 429s where Mesa must stay stoppable and say in its log what it waits for.
 *
 * What every call shares, per Graph's documented behaviour:
 * - The bearer token comes from the mailbox's token store (src/mailboxes/mailbox-tokens.ts). A 401 hands that token
 *   back as refused and asks once more with a new one; a second 401 is GRAPH_AUTH_FAILED. A grant that is gone
 *   shows as the store's MAILBOX_SIGN_IN_REQUIRED (needs_reauth), never as a loop against the provider.
 * - 429, 503 and 504 are throttling: wait what Retry-After says (seconds or an HTTP date), or a growing wait when it
 *   says nothing, and ask again; after a few waits the caller gets GRAPH_UNAVAILABLE with the wait still asked.
 * - Every other failure carries Graph's own error code (`error.code` of the JSON body) and status.
 */

export interface GraphTokenSource {
  accessToken(mailbox: MailboxName, opts?: { refused?: string }): Promise<{ token: string }>;
}

export interface GraphClientOptions {
  settings: GraphSettings;
  mailbox: MailboxName;
  tokens: GraphTokenSource;
  log: Logger;
  /** Aborts waits and requests (the reader stopping). */
  signal?: AbortSignal;
  /** Throttling answers waited out before giving up (default 5). */
  throttleWaits?: number;
}

/** A failed Graph request: its HTTP status, Graph's error code, and the wait it asked for (429/503/504). */
export class GraphError extends MesaError {
  constructor(
    readonly status: number,
    readonly graphCode: string,
    text: string,
    readonly retryAfterMs?: number,
  ) {
    super(
      status === 401 || status === 403
        ? 'GRAPH_AUTH_FAILED'
        : status === 429 || status >= 500
          ? 'GRAPH_UNAVAILABLE'
          : 'GRAPH_REFUSED',
      `${status} ${graphCode}${text ? `: ${text}` : ''}`,
    );
  }
}

/** Said by Graph when a delta token can no longer be used: start the delta again (410 Gone, or these codes). */
export function isStaleDelta(err: unknown): boolean {
  return (
    err instanceof GraphError &&
    (err.status === 410 || /^(syncStateNotFound|resyncRequired|syncStateInvalid)$/i.test(err.graphCode))
  );
}

const THROTTLED = new Set([429, 503, 504]);
/** Longest wait honoured from one Retry-After; a larger one is capped (the next answer says again). */
const MAX_RETRY_AFTER_MS = 5 * 60_000;

export class GraphClient {
  constructor(private readonly o: GraphClientOptions) {}

  /** `/users/{user}` + path, under GRAPH_BASE_URL. */
  userUrl(path: string): string {
    return `${this.o.settings.baseUrl}/users/${encodeURIComponent(this.o.settings.user)}${path}`;
  }

  async json<T>(url: string, init: RequestInit = {}): Promise<T> {
    return (await (await this.request(url, init)).json()) as T;
  }

  /** One Graph call with the mailbox's token: 401 renewed once, throttling waited out, failures as GraphError. */
  async request(url: string, init: RequestInit = {}): Promise<Response> {
    let refused: string | undefined;
    for (let throttled = 0, renewed = false; ;) {
      const { token } = await this.o.tokens.accessToken(this.o.mailbox, refused ? { refused } : {});
      refused = undefined;
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${token}`);
      // Ids that do not change when a message moves between folders (the ledger's key, src/inbound/source-key.ts).
      headers.set('prefer', [headers.get('prefer'), 'IdType="ImmutableId"'].filter(Boolean).join(', '));
      const res = await fetch(url, { ...init, headers, signal: this.o.signal });
      if (res.ok) return res;
      const err = await errorOf(res);
      if (res.status === 401 && !renewed) {
        renewed = true;
        refused = token;
        this.o.log.info({ graphCode: err.graphCode }, 'Microsoft Graph rechazó el token: se pide uno nuevo');
        continue;
      }
      if (THROTTLED.has(res.status) && throttled < (this.o.throttleWaits ?? 5)) {
        const wait = err.retryAfterMs ?? Math.min(MAX_RETRY_AFTER_MS, 2_000 * 2 ** throttled);
        throttled++;
        this.o.log.warn(
          { status: res.status, graphCode: err.graphCode, waitMs: wait },
          'Microsoft Graph pide esperar (Retry-After)',
        );
        await sleep(wait, this.o.signal);
        if (this.o.signal?.aborted) throw err;
        continue;
      }
      throw err;
    }
  }
}

async function errorOf(res: Response): Promise<GraphError> {
  let code = `http_${res.status}`;
  let text = '';
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    code = body.error?.code ?? code;
    text = (body.error?.message ?? '').slice(0, 300);
  } catch {
    // Not JSON (a proxy's page): the status says enough.
  }
  return new GraphError(res.status, code, text, retryAfterMs(res.headers.get('retry-after')));
}

/** Retry-After as delta-seconds or as an HTTP date (RFC 9110 §10.2.3), capped. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const ms = /^\d+$/.test(value.trim()) ? Number(value) * 1000 : Date.parse(value) - now;
  return Number.isFinite(ms) ? Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms)) : undefined;
}
