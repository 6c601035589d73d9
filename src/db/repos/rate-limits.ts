import { row, knexOf, type Queryable } from '../sql.ts';

/** Counters of the status page's request limits (src/web/rate-limit-store.ts). SQL only. */

/**
 * Counts one request under `key` and returns the count in the current window and when the window ends. A window
 * starts with the first request after the previous one ended. One statement (an upsert), atomic on both databases:
 * two instances counting the same key at once never lose a request.
 */
export async function countHit(
  db: Queryable,
  key: string,
  now: number,
  windowMs: number,
): Promise<{ hits: number; expiresAt: number }> {
  const r = await row(
    db,
    'insert into "rate_limits" ("key", "hits", "expires_at") values (?, 1, ?) on conflict ("key") do update set ' +
      '"hits" = case when "rate_limits"."expires_at" <= ? then 1 else "rate_limits"."hits" + 1 end, ' +
      '"expires_at" = case when "rate_limits"."expires_at" <= ? then ? else "rate_limits"."expires_at" end ' +
      'returning "hits", "expires_at"',
    [key, now + windowMs, now, now, now + windowMs],
  );
  return { hits: Number(r.hits), expiresAt: Number(r.expires_at) };
}

/** Drops the counters whose window has ended; returns how many. */
export async function purgeEndedWindows(queryable: Queryable, now: number): Promise<number> {
  const db = knexOf(queryable);
  return Number(await db('rate_limits').where('expires_at', '<=', now).delete());
}
