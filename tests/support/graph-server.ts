import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { requestWatch } from './wait.ts';

/**
 * A stub of Microsoft Graph's mail API, as a real HTTP server in the test process. Microsoft Graph itself cannot run
 * here (it is Microsoft's cloud service, with no local edition), so this speaks the documented subset Mesa uses, with
 * the documented shapes:
 *
 * - GET /users/{user}/mailFolders/{folder}/messages/delta: pages of `value` (at most `Prefer: odata.maxpagesize`),
 *   `@odata.nextLink` between pages and `@odata.deltaLink` on the last one; a delta link returns what was added
 *   (and `@removed` for what left) since it was issued. A delta token made stale by `expireDeltaTokens()` answers
 *   410 Gone with `SyncStateNotFound`, as Graph does when its sync state is gone.
 * - GET /users/{user}/messages/{id}/$value (the MIME source), POST /messages/{id}/move, GET /mailFolders/{folder},
 *   GET /mailFolders?$filter=displayName eq '…' and POST /mailFolders.
 * - POST /users/{user}/sendMail with a base64 MIME body as text/plain (202 Accepted), kept in `sent`.
 * - Throttling: `throttleNext(n, seconds)` answers the next n requests 429 with Retry-After.
 *
 * Every bearer token is checked at the test OAuth server's introspection endpoint (tests/support/oauth-server.ts), so
 * expiry, rotation and revocation are the real thing: 401 InvalidAuthenticationToken when it is not active, 403
 * ErrorAccessDenied when it names another user or the user was denied with `deny()`. Ids are immutable only when the
 * request says `Prefer: IdType="ImmutableId"` (otherwise a move changes them, as in Graph).
 */

export interface GraphRequest {
  method: string;
  path: string;
  status: number;
  at: number;
  token: string;
  prefer: string;
}

export interface SentMail {
  user: string;
  mime: Buffer;
  token: string;
  contentType: string;
}

interface Message {
  id: string;
  user: string;
  folder: string;
  mime: Buffer;
  /** receivedDateTime: when the server took it (ms). */
  receivedAt: number;
}
interface Change {
  seq: number;
  id: string;
  user: string;
  folder: string;
  removed: boolean;
}

export interface GraphServer {
  baseUrl: string;
  requests: GraphRequest[];
  sent: SentMail[];
  /** Puts a message into a user's folder (`inbox` unless told; received now unless `receivedAt`) and returns its id. */
  deliver(user: string, mime: Buffer, folder?: string, receivedAt?: Date): string;
  /** Ids of the messages now in a user's folder. */
  folderIds(user: string, folder: string): string[];
  /** The next `count` requests (whose path contains `only`, when given) are answered 429 with `Retry-After: seconds`. */
  throttleNext(count: number, seconds: number, only?: string): void;
  /** Every delta token issued so far answers 410 Gone (SyncStateNotFound). */
  expireDeltaTokens(): void;
  /** `user`'s mailbox refuses every request (403 ErrorAccessDenied): the app has no permission on it. */
  deny(user: string): void;
  /** Delta pages after the first `pages` of every pass wait until `release()` (to stop a reader midway). */
  holdAfterPages(pages: number): { release(): void; reached: Promise<void> };
  /** Resolves when `pred` holds for the request log (checked on every request). */
  waitFor(what: string, pred: (log: GraphRequest[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startGraphServer(opts: { introspectionUrl: string; pageSize?: number }): Promise<GraphServer> {
  const messages = new Map<string, Message>();
  const changes: Change[] = [];
  const passes = new Map<
    string,
    { items: string[]; endSeq: number; user: string; folder: string; page: number; filter: string | null }
  >();
  const folders = new Map<string, { id: string; displayName: string; user: string }>();
  const denied = new Set<string>();
  const requests: GraphRequest[] = [];
  const sent: SentMail[] = [];
  let seq = 0;
  let staleBefore = 0;
  let throttle = { count: 0, seconds: 0, only: '' };
  let hold: { after: number; gate: Promise<void>; reached: () => void } | undefined;
  const random = () => crypto.randomBytes(12).toString('base64url');
  const watch = requestWatch('Graph', requests);
  const notify = watch.notify;

  const inFolder = (user: string, folder: string) =>
    [...messages.values()].filter((m) => m.user === user && m.folder === folder).map((m) => m.id);
  // Without the ImmutableId preference an id is the message's place: it changes when the message moves.
  const idFor = (id: string, immutable: boolean) => (immutable ? id : `mutable-${messages.get(id)?.folder}-${id}`);

  async function introspect(token: string): Promise<{ active: boolean; username?: string }> {
    const res = await fetch(opts.introspectionUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }),
    });
    return (await res.json()) as { active: boolean; username?: string };
  }

  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', state.baseUrl);
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const prefer = String(req.headers.prefer ?? '');
    const immutable = /IdType="ImmutableId"/.test(prefer);
    const entry: GraphRequest = {
      method: req.method ?? 'GET',
      path: url.pathname + url.search,
      status: 0,
      at: Date.now(),
      token,
      prefer,
    };
    const send = (status: number, json?: unknown, headers: Record<string, string> = {}) => {
      entry.status = status;
      requests.push(entry);
      res.writeHead(status, { ...(json === undefined ? {} : { 'content-type': 'application/json' }), ...headers });
      res.end(json === undefined ? undefined : JSON.stringify(json));
      notify();
    };
    const fail = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
      send(status, { error: { code, message } }, headers);

    if (throttle.count > 0 && url.pathname.includes(throttle.only)) {
      throttle.count--;
      return fail(429, 'ApplicationThrottled', 'prueba: demasiadas solicitudes', {
        'retry-after': String(throttle.seconds),
      });
    }
    const who = token ? await introspect(token) : { active: false };
    if (!who.active) return fail(401, 'InvalidAuthenticationToken', 'Access token has expired or is not yet valid.');
    const m = /^\/v1\.0\/users\/([^/]+)(\/.*)$/.exec(url.pathname);
    if (!m) return fail(404, 'ResourceNotFound', 'prueba: ruta desconocida');
    const user = decodeURIComponent(m[1]);
    const rest = m[2];
    if ((who.username !== user && who.username !== 'app') || denied.has(user))
      return fail(403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');

    let r: RegExpExecArray | null;
    if ((r = /^\/mailFolders\/([^/]+)\/messages\/delta$/.exec(rest)) && req.method === 'GET') {
      const folder = decodeURIComponent(r[1]);
      const size = Number(/odata\.maxpagesize=(\d+)/.exec(prefer)?.[1] ?? opts.pageSize ?? 10);
      const skip = url.searchParams.get('$skiptoken');
      const deltaToken = url.searchParams.get('$deltatoken');
      let pass = skip ? passes.get(skip) : undefined;
      if (skip && !pass) return fail(410, 'SyncStateNotFound', 'The sync state generation is not found.');
      // Message delta takes one $filter: receivedDateTime ge|gt an instant; Graph answers 400 to any other.
      const filter = url.searchParams.get('$filter');
      const since = filter ? /^receivedDateTime (ge|gt) (\S+)$/.exec(filter) : undefined;
      if (filter && (!since || Number.isNaN(Date.parse(since[2]))))
        return fail(400, 'ErrorInvalidUrlQueryFilter', 'The query filter contains one or more invalid nodes.');
      const received = (id: string) => {
        const at = messages.get(id)?.receivedAt ?? 0;
        return !since || (since[1] === 'ge' ? at >= Date.parse(since[2]) : at > Date.parse(since[2]));
      };
      if (!pass) {
        if (deltaToken) {
          const [from, issued] = deltaToken.split('.').map(Number);
          if (issued < staleBefore) return fail(410, 'SyncStateNotFound', 'The sync state generation is not found.');
          // Each changed message once, as it is now: in the folder, or `@removed` from it.
          const since = new Set(
            changes.filter((c) => c.seq > from && c.user === user && c.folder === folder).map((c) => c.id),
          );
          const items = [...since].map((id) => (messages.get(id)?.folder === folder ? id : `-${id}`));
          pass = {
            items: items.filter((id) => received(id.replace(/^-/, ''))),
            endSeq: seq,
            user,
            folder,
            page: 0,
            filter,
          };
        } else {
          pass = { items: inFolder(user, folder).filter(received), endSeq: seq, user, folder, page: 0, filter };
        }
      }
      pass.page++;
      if (hold && pass.page > hold.after) {
        hold.reached();
        await hold.gate;
      }
      const page = pass.items.slice(0, size);
      const remaining = { ...pass, items: pass.items.slice(size) };
      const value = page.map((id) =>
        id.startsWith('-')
          ? { id: idFor(id.slice(1), immutable), '@removed': { reason: 'deleted' } }
          : { id: idFor(id, immutable) },
      );
      const link = `${state.baseUrl}/users/${encodeURIComponent(user)}/mailFolders/${encodeURIComponent(folder)}/messages/delta`;
      // As Graph does, the query options of the first request travel in the links it returns.
      const kept = pass.filter ? `&$filter=${encodeURIComponent(pass.filter)}` : '';
      if (remaining.items.length) {
        const key = random();
        passes.set(key, remaining);
        return send(200, { value, '@odata.nextLink': `${link}?$skiptoken=${key}${kept}` });
      }
      return send(200, { value, '@odata.deltaLink': `${link}?$deltatoken=${pass.endSeq}.${Date.now()}${kept}` });
    }
    if ((r = /^\/messages\/([^/]+)\/\$value$/.exec(rest)) && req.method === 'GET') {
      const msg = messages.get(decodeURIComponent(r[1]));
      if (!msg || msg.user !== user)
        return fail(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
      entry.status = 200;
      requests.push(entry);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(msg.mime);
      return notify();
    }
    if ((r = /^\/messages\/([^/]+)\/move$/.exec(rest)) && req.method === 'POST') {
      const msg = messages.get(decodeURIComponent(r[1]));
      if (!msg || msg.user !== user)
        return fail(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
      const destination = JSON.parse(body.toString()).destinationId as string;
      changes.push({ seq: ++seq, id: msg.id, user, folder: msg.folder, removed: true });
      msg.folder = destination;
      changes.push({ seq: ++seq, id: msg.id, user, folder: destination, removed: false });
      return send(201, { id: idFor(msg.id, immutable), parentFolderId: destination });
    }
    if (rest === '/mailFolders' && req.method === 'GET') {
      const name = /displayName eq '(.*)'/.exec(url.searchParams.get('$filter') ?? '')?.[1]?.replace(/''/g, "'");
      return send(200, {
        value: [...folders.values()].filter((f) => f.user === user && (name === undefined || f.displayName === name)),
      });
    }
    if (rest === '/mailFolders' && req.method === 'POST') {
      const folder = { id: `folder-${random()}`, displayName: JSON.parse(body.toString()).displayName as string, user };
      folders.set(folder.id, folder);
      return send(201, folder);
    }
    if ((r = /^\/mailFolders\/([^/]+)$/.exec(rest)) && req.method === 'GET') {
      const folder = decodeURIComponent(r[1]);
      return send(200, {
        id: folder,
        displayName: folders.get(folder)?.displayName ?? folder,
        totalItemCount: inFolder(user, folder).length,
      });
    }
    if (rest === '/sendMail' && req.method === 'POST') {
      const contentType = String(req.headers['content-type'] ?? '');
      if (!contentType.startsWith('text/plain'))
        return fail(400, 'ErrorMimeContentInvalidBase64String', 'prueba: se esperaba MIME en base64');
      sent.push({ user, mime: Buffer.from(body.toString(), 'base64'), token, contentType });
      return send(202);
    }
    return fail(404, 'ResourceNotFound', 'prueba: ruta desconocida');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));

  const state: GraphServer = {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1.0`,
    requests,
    sent,
    deliver(user, mime, folder = 'inbox', receivedAt = new Date()) {
      const id = `AAMk${random()}`;
      messages.set(id, { id, user, folder, mime, receivedAt: receivedAt.getTime() });
      changes.push({ seq: ++seq, id, user, folder, removed: false });
      return id;
    },
    folderIds: (user, folder) => inFolder(user, folder),
    throttleNext(count, seconds, only = '') {
      throttle = { count, seconds, only };
    },
    expireDeltaTokens() {
      staleBefore = Date.now() + 1;
    },
    deny(user) {
      denied.add(user);
    },
    holdAfterPages(pages) {
      let release!: () => void;
      let reached!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const reachedP = new Promise<void>((r) => (reached = r));
      hold = { after: pages, gate, reached };
      return {
        reached: reachedP,
        release() {
          hold = undefined;
          release();
        },
      };
    },
    waitFor: watch.waitFor,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return state;
}
