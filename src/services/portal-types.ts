import type { Knex } from 'knex';
import type { UnitOfWork } from '../db/unit-of-work.ts';
import type { Config } from '../config.ts';
import type { LinkService } from '../links/links.ts';
import type { Logger } from '../logger.ts';
import type { BlobStore, StagedFile } from '../storage/blobs.ts';
import type { Ticket } from '../tickets/types.ts';
import type { CaseService } from './cases.ts';

/** What the status page's services share (src/services/portal.ts and the portal-*.ts beside it). */

export type Access =
  | {
      kind: 'ok';
      ticket: Ticket;
      recipient: string;
      linkId: number;
      role: 'customer' | 'consultant';
      lastUsedAt?: number;
    }
  /** A link we issued that expired or was revoked: the page may offer a fresh one to the case's own address. */
  | { kind: 'stale'; ticketId: number; number: number; recipient: string }
  /** Malformed, forged, or for nothing we know: the page says 404 and nothing more. */
  | { kind: 'invalid' };

/** A file posted on the page: already on disk (BlobStore.stage), within the size limits the web route applies. */
export interface UploadedFile {
  filename: string;
  contentType: string;
  staged: StagedFile;
}

export type Verdict = 'satisfactoria' | 'insatisfactoria';

/** How link mails leave: the outbound side queues them in the caller's transaction (transactional outbox). */
export interface LinkMailer {
  freshLink(trx: UnitOfWork, p: { ticket: Ticket; recipient: string; url: string; now: number }): Promise<void>;
  lostLinks(
    trx: UnitOfWork,
    p: { address: string; cases: Array<{ ticket: Ticket; url: string }>; now: number },
  ): Promise<void>;
}

export interface PortalDeps {
  db: Knex;
  config: Config;
  blobs: BlobStore;
  cases: CaseService;
  links: LinkService;
  mailer?: LinkMailer;
  logger: Logger;
  clock?: () => number;
  /** The desk's people for a case's organization (CONSULTANTS and the organization's `notify`): their links act
   * as consultants. */
  consultantsOf?: (organization: string) => readonly string[];
}
