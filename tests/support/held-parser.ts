import type { InboundMail } from '../../src/inbound/mail.ts';
import { InThreadParser, type MailParser } from '../../src/inbound/parser.ts';
import type { BlobStore } from '../../src/storage/blobs.ts';

/**
 * A parser on this thread whose results a test hands over when it decides (`hold`, given the 0-based number of the
 * call and the parse under way): which mails of a batch are parsed before their turn decides what the batch reads
 * ahead (src/inbound/ingest-batch.ts).
 */
export function heldParser(
  blobs: BlobStore,
  hold: (call: number, parsed: Promise<InboundMail>) => Promise<InboundMail>,
): MailParser {
  const inner = new InThreadParser(blobs);
  let calls = 0;
  return {
    parse: (raw, rawSha256) => hold(calls++, inner.parse(raw, rawSha256)),
    warm: () => inner.warm(),
    close: () => inner.close(),
  };
}
