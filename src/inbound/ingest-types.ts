import type { Knex } from 'knex';
import type { PlannerStatistics } from '../db/statistics.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Policy } from '../policy/policy.ts';
import type { CaseService } from '../services/cases.ts';
import type { LifecycleService } from '../services/lifecycle.ts';
import type { BlobStore } from '../storage/blobs.ts';
import type { ReasonCode } from './filters/types.ts';
import type { InboundWork } from './inbound-work.ts';
import type { MailSource } from './mail.ts';
import type { MailParser } from './parser.ts';

export type Outcome = 'accepted' | 'ignored' | 'rejected' | 'tempfail';

export interface IngestResult {
  outcome: Outcome;
  sourceKey: string;
  effect?: 'new_case' | 'follow_up' | 'system_note' | 'held';
  reason?: ReasonCode;
  detail?: string;
  ticketNumber?: number;
  quarantineId?: number;
  /** The ledger already had this source: nothing was done again. */
  alreadyProcessed?: boolean;
}

/**
 * A source over MAX_MESSAGE_BYTES, never held whole in memory: streamed in (from the mail server, an MTA's pipe, a
 * file) into the blob store (on disk before any transaction names it) while it was hashed, and refused from its first
 * bytes (the quarantine's header summary). What `mesa replay` takes again once the limit allows it.
 */
export interface KeptSource {
  /** Its first bytes (HEADER_SUMMARY_BYTES): the headers the quarantine lists and the polite refusal answers. */
  head: Buffer;
  sha256: string;
  size: number;
}

/** What a mailbox reader has of one mail: its bytes, or (too large to read) its first bytes and where it was kept. */
export interface FetchedSource {
  raw: Buffer;
  kept?: Omit<KeptSource, 'head'>;
}

/** One mail for IngestService.ingestMany, and where it came from. */
export interface IngestItem extends FetchedSource {
  source: MailSource;
}

export interface IngestDeps {
  db: Knex;
  config: Config;
  blobs: BlobStore;
  cases: CaseService;
  logger: Logger;
  clock?: () => number;
  /** Lifecycle rules (issue 5): entitlement and open-case limit facts, and where held requests go. */
  policy?: Policy;
  lifecycle?: LifecycleService;
  /** Where MIME parsing runs (src/inbound/parse-thread.ts); on this thread when absent. */
  parser?: MailParser;
  /** PostgreSQL's planner statistics, kept up with a bulk load (src/db/statistics.ts). */
  statistics?: PlannerStatistics;
}

/** What the stages of an ingest (batch, effects, quarantine) read of the IngestService that runs them: its
 * dependencies, its clock and log, where it parses, and the parser and filters once loaded. */
export interface IngestContext {
  deps: IngestDeps;
  log: Logger;
  now: () => number;
  parser: MailParser;
  work: InboundWork;
}
