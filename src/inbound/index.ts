/**
 * The inbound side's public entry: what the adapters (src/cli/, src/web/) may use of it. Everything else under
 * src/inbound/ is its own; only the composition root (src/app.ts) builds its services from their files
 * (.dependency-cruiser.cjs holds the rule). Importing a value from here loads the poller and imapflow: `mesa start`
 * imports it lazily, after the web server listens.
 */
export type { FetchedSource, IngestResult, Outcome } from './ingest-types.ts';
export { startPollers } from './readers.ts';
export { createImapClient, describeImapError } from './imap-client.ts';
