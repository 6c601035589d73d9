import type { Knex } from 'knex';
import { countHit, purgeEndedWindows } from '../db/repos/rate-limits.ts';
import type { Logger } from '../logger.ts';

/**
 * A store for @fastify/rate-limit that counts in the database (table `rate_limits`) instead of in the process's memory.
 * With several instances behind a balancer (docs/operations.md, «Varias instancias»), each one counted only the
 * requests it saw, so a client had WEB_LINK_REQUESTS_PER_IP per hour per instance; and a restart forgot every count.
 * Now every instance counts the same rows. The limited routes are the ones that send mail (fresh link, lost link), a
 * few requests per hour per client: one upsert each costs nothing next to the mail they send.
 *
 * The plugin's `continueExceeding` and `exponentialBackoff` options are not supported (Mesa uses neither).
 */
export interface RateLimitStoreDeps {
  db: Knex;
  logger: Logger;
  clock?: () => number;
}

/** Ended windows are deleted every this many counted requests (per process): the table stays the size of one hour. */
const PURGE_EVERY = 200;

/** The plugin calls incr(key, callback, timeWindow, max) (its typings still list only the first two). */
type Incr = (
  key: string,
  cb: (err: Error | null, res?: { current: number; ttl: number }) => void,
  timeWindow?: number,
) => void;

/** The store class the plugin instantiates (`store` option): bound to this app's database. */
export function databaseRateLimitStore(deps: RateLimitStoreDeps) {
  const now = () => (deps.clock ?? Date.now)();
  let counted = 0;
  const purge = () => {
    purgeEndedWindows(deps.db, now()).catch((err) =>
      deps.logger.warn({ err }, 'no se pudieron borrar contadores vencidos de límites de pedidos'),
    );
  };
  return class DatabaseRateLimitStore {
    /** Route keys are prefixed with the route (`child`), as the plugin's own stores do. */
    constructor(
      _globalParams?: unknown,
      private readonly prefix = '',
    ) {}

    incr: Incr = (key, cb, timeWindow) => {
      if (!timeWindow) return cb(new Error('límite de pedidos sin ventana de tiempo'));
      const at = now();
      countHit(deps.db, `${this.prefix}${key}`, at, timeWindow).then(
        ({ hits, expiresAt }) => cb(null, { current: hits, ttl: Math.max(0, expiresAt - at) }),
        (err: Error) => cb(err),
      );
      if (++counted % PURGE_EVERY === 0) purge();
    };

    /** At run time the plugin passes the route's merged limit options, the route under `routeInfo` (its typings say
     * the route options themselves): either way, the route's method and URL. */
    child(routeOptions: {
      method?: string | string[];
      url?: string;
      routeInfo?: { method?: string | string[]; url?: string };
    }) {
      const route = routeOptions.routeInfo ?? routeOptions;
      return new DatabaseRateLimitStore(
        undefined,
        `${this.prefix}${[route.method ?? ''].flat().join(',')} ${route.url ?? ''}|`,
      );
    }
  };
}
