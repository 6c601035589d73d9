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

/**
 * A parser that, once armed for a batch of `n`, hands each mail of that batch over only when all `n` are parsed: the
 * parse got ahead of every mail's turn, so the batch reads ahead for all of them. Unarmed, as it is.
 */
export function wholeBatchParser(blobs: BlobStore): { parser: MailParser; arm(n: number): void } {
  let size = 0;
  let batch: Array<Promise<InboundMail>> = [];
  let open: () => void = () => undefined;
  let gate: Promise<void> = Promise.resolve();
  const parser = heldParser(blobs, (_call, parsed) => {
    if (!size) return parsed;
    if (batch.push(parsed) === size) {
      size = 0;
      void Promise.allSettled(batch).then(open);
    }
    return gate.then(() => parsed);
  });
  const arm = (n: number) => {
    size = n;
    batch = [];
    gate = new Promise<void>((resolve) => (open = resolve));
  };
  return { parser, arm };
}
