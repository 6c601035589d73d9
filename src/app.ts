import path from 'node:path';
import type { Knex } from 'knex';
import type { Config } from './config.ts';
import { openDatabase } from './db/knex.ts';
import { migrateLatest } from './db/migrate.ts';
import { IngestService } from './inbound/ingest.ts';
import { ParseThread } from './inbound/parse-thread.ts';
import type { Logger } from './logger.ts';
import type { LinkService } from './links/links.ts';
import { createOutbound, type Outbound } from './outbound/index.ts';
import { CaseService } from './services/cases.ts';
import { LifecycleService } from './services/lifecycle.ts';
import { LifecycleMailNotifier } from './jobs/lifecycle-mail.ts';
import { Policy } from './policy/policy.ts';
import { BlobStore } from './storage/blobs.ts';

/** The composition root: builds every service once, from one config and one logger. */
export interface App {
  config: Config;
  logger: Logger;
  db: Knex;
  blobs: BlobStore;
  cases: CaseService;
  ingest: IngestService;
  /** Mail out (issue 3): templates, outbox, notifier, refusals and the dispatcher (started by `mesa start`). */
  outbound: Outbound;
  /** Magic links: `issueLink`, `verifyToken`, `revokeLink`, `revokeCaseLinks`. */
  links: LinkService;
  /** Lifecycle rules: calendar, SLA, auto-close, limits, entitlement (issue 5). */
  policy: Policy;
  lifecycle: LifecycleService;
  close(): Promise<void>;
}

export async function createApp(config: Config, logger: Logger, opts: { migrate?: boolean; clock?: () => number } = {}): Promise<App> {
  const db = openDatabase(config.database);
  if (opts.migrate !== false) await migrateLatest(db);
  const blobs = new BlobStore(path.join(config.dataDir, 'blobs'));
  const cases = new CaseService(logger.child({ component: 'cases' }), config.participants);
  const policy = new Policy(config.lifecycle);
  const outbound = createOutbound({ db, config, blobs, logger, clock: opts.clock, extraConsultants: (org) => policy.extraConsultants(org) });
  cases.addNotifier(outbound.notifier);
  cases.addNotifier(outbound.refusals);
  const lifecycle = new LifecycleService({ cases, policy, logger: logger.child({ component: 'lifecycle' }) });
  cases.addNotifier(new LifecycleMailNotifier({ config, outbox: outbound.outbox, links: outbound.links, policy }));
  const parser = config.parseWorker ? new ParseThread({ blobs, logger: logger.child({ component: 'inbound' }) }) : undefined;
  const ingest = new IngestService({ db, config, blobs, cases, logger, clock: opts.clock, policy, lifecycle, parser });
  return {
    config, logger, db, blobs, cases, ingest, policy, lifecycle, outbound, links: outbound.links,
    async close() {
      await outbound.dispatcher.stop();
      await ingest.close();
      await db.destroy();
    },
  };
}

