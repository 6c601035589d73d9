import type { Knex } from 'knex';
import { countHit } from '../db/repos/rate-limits.ts';
import type { Config } from '../config.ts';

/**
 * How many messages and files the status page takes per hour, per link and per client address (WEB_POSTS_PER_*,
 * WEB_FILES_PER_*). Counted in the database table `rate_limits`, as the link-request limits are
 * (rate-limit-store.ts), so that every instance behind a balancer counts the same requests and a restart forgets
 * nothing. Every attempt counts, refused ones included: a stream of bad requests is itself what is limited.
 */
const HOUR = 3_600_000;

export type Subject = { kind: 'ip'; ip: string } | { kind: 'link'; linkId: number };

export class PostLimits {
  constructor(private readonly deps: { db: Knex; config: Config; clock?: () => number }) {}

  /** Counts one message attempt; false when this one is over the limit. */
  async post(subject: Subject): Promise<boolean> {
    const web = this.deps.config.web;
    return this.count(`post|${key(subject)}`, subject.kind === 'ip' ? web.postsPerIp : web.postsPerLink);
  }

  /** Counts one attached file for both the link and the client; false when either is over its limit. */
  async file(ip: string, linkId: number): Promise<boolean> {
    const web = this.deps.config.web;
    const [byIp, byLink] = await Promise.all([
      this.count(`file|${key({ kind: 'ip', ip })}`, web.filesPerIp),
      this.count(`file|${key({ kind: 'link', linkId })}`, web.filesPerLink),
    ]);
    return byIp && byLink;
  }

  private async count(k: string, max: number): Promise<boolean> {
    const { hits } = await countHit(this.deps.db, `web-${k}`, (this.deps.clock ?? Date.now)(), HOUR);
    return hits <= max;
  }
}

function key(s: Subject): string {
  return s.kind === 'ip' ? `ip:${s.ip}` : `link:${s.linkId}`;
}
