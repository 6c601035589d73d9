/**
 * The parser and the filters load with the first mail, not with the process: mailparser, iconv-lite, html-to-text
 * and email-reply-parser are a large part of what `mesa start` would otherwise compile before /healthz can answer.
 * Loaded once; every later mail finds them ready.
 */
const importInboundWork = () =>
  Promise.all([import('./content-hash.ts'), import('./pipeline.ts'), import('./quotes.ts'), import('mailparser')]).then(
    ([hashing, pipeline, quotes, mailparser]) => ({
      contentHash: hashing.contentHash,
      runFilters: pipeline.runFilters,
      decide: pipeline.decide,
      fullTextOf: quotes.fullTextOf,
      simpleParser: mailparser.simpleParser,
    }),
  );
export type InboundWork = Awaited<ReturnType<typeof importInboundWork>>;
let inboundWork: Promise<InboundWork> | undefined;
export const loadInboundWork = () =>
  (inboundWork ??= importInboundWork().catch((err) => {
    inboundWork = undefined; // a later mail tries again
    throw err;
  }));
