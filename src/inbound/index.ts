/**
 * The inbound side's public entry: what the adapters (src/cli/, src/web/) may use of it. Everything else under
 * src/inbound/ is its own; only the composition root (src/app.ts) builds its services from their files
 * (.dependency-cruiser.cjs holds the rule). Importing a value from here loads the poller and imapflow: `mesa start`
 * imports it lazily, after the web server listens.
 */
import type { IngestService } from './ingest.ts';

export type { FetchedSource, IngestResult, Outcome } from './ingest-types.ts';
/** How the ingest takes a source read by an adapter (a file, standard input): whole while it is not too large to
 * read, kept on disk past that. */
export type SourceReader = Pick<IngestService, 'readSource' | 'tooLargeToRead'>;
export { startPollers } from './readers.ts';
export { createImapClient, describeImapError } from './imap-client.ts';
