import path from 'node:path';
import type { Knex } from 'knex';
import type { Config } from './config.ts';
import { openDatabase } from './db/knex.ts';
import { migrateLatest } from './db/migrate.ts';
import { IngestService } from './inbound/ingest.ts';
import { ParseThread } from './inbound/parse-thread.ts';
import type { MailParser } from './inbound/parser.ts';
import type { Logger } from './logger.ts';
import type { LinkService } from './links/links.ts';
import { createOutbound, type Outbound } from './outbound/index.ts';
import { mailboxAlert } from './outbound/mailbox-alert.ts';
import { CaseService } from './services/cases.ts';
import { KnowledgeService } from './services/knowledge.ts';
import { LifecycleService } from './services/lifecycle.ts';
import { LifecycleMailNotifier } from './jobs/lifecycle-mail.ts';
import { MailboxTokens } from './mailboxes/mailbox-tokens.ts';
import { Policy } from './policy/policy.ts';
import { matcherFor } from './tickets/products.ts';
import { BlobStore } from './storage/blobs.ts';
import { PlannerStatistics } from './db/statistics.ts';
import { prepareDataDir } from './directories.ts';

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
  /** OAuth2 tokens of the mailboxes (src/mailboxes/): IMAP and SMTP take their access tokens from here. */
  tokens: MailboxTokens;
  /** Solved cases indexed for search, and the articles published from them. */
  knowledge: KnowledgeService;
  close(): Promise<void>;
}

/**
 * `parser`: another parser than the configured one (tests: a parse thread whose body misbehaves on purpose).
 * `parseWorkerUrl`, `composeWorkerUrl`: the parse and compose threads' bodies, when not the built ones beside the
 * running code (tests).
 */
export async function createApp(
  config: Config,
  logger: Logger,
  opts: {
    migrate?: boolean;
    clock?: () => number;
    parser?: MailParser;
    parseWorkerUrl?: URL;
    composeWorkerUrl?: URL;
  } = {},
): Promise<App> {
  prepareDataDir(config.dataDir);
  const db = openDatabase(config.database);
  if (opts.migrate !== false) await migrateLatest(db);
  const blobs = new BlobStore(path.join(config.dataDir, 'blobs'));
  const knowledge = new KnowledgeService({ db });
  const cases = new CaseService(logger.child({ component: 'cases' }), {
    products: matcherFor(config.products),
    knowledge,
    participants: config.participants,
  });
  const policy = new Policy(config.lifecycle);
  // The alert for a lost grant goes out through the outbox, built just below (called only later, when it happens).
  const tokens = new MailboxTokens({
    db,
    secretKey: config.secretKey,
    mailboxes: config.mailboxes,
    logger,
    onReauth: (notice) => mailboxAlert({ db, config, outbox: outbound.outbox, log: logger })(notice),
  });
  const outbound = createOutbound({
    db,
    config,
    tokens,
    blobs,
    logger,
    clock: opts.clock,
    dispatcher: opts.composeWorkerUrl ? { composeWorkerUrl: opts.composeWorkerUrl } : undefined,
    extraConsultants: (org) => policy.extraConsultants(org),
    suggestions: knowledge,
  });
  cases.addNotifier(outbound.notifier);
  cases.addNotifier(outbound.refusals);
  const lifecycle = new LifecycleService({ cases, policy, logger: logger.child({ component: 'lifecycle' }) });
  cases.addNotifier(new LifecycleMailNotifier({ config, outbox: outbound.outbox, links: outbound.links, policy }));
  const parser =
    opts.parser ??
    (config.parseWorker
      ? new ParseThread({
          blobs,
          logger: logger.child({ component: 'inbound' }),
          maxAttachmentBytes: config.limits.maxAttachmentBytes,
          workerUrl: opts.parseWorkerUrl,
        })
      : undefined);
  const statistics = new PlannerStatistics(db, logger.child({ component: 'db' }));
  const ingest = new IngestService({
    db,
    config,
    blobs,
    cases,
    logger,
    clock: opts.clock,
    policy,
    lifecycle,
    parser,
    statistics,
  });
  return {
    config,
    logger,
    db,
    blobs,
    cases,
    ingest,
    policy,
    lifecycle,
    outbound,
    links: outbound.links,
    tokens,
    knowledge,
    async close() {
      await outbound.dispatcher.stop();
      await ingest.close();
      await db.destroy();
    },
  };
}
