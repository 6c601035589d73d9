import { parentPort, workerData } from 'node:worker_threads';
import { BlobStore } from '../storage/blobs.ts';
import { isMesaError } from '../errors.ts';
import { parseMail } from './parse.ts';
import type { ParseReply, ParseRequest } from './parse-thread.ts';

/**
 * The parse thread's body (see parse-thread.ts): raw mail in, the parsed mail out, one request at a time and in
 * order. Attachments are streamed into the same blob store as on the main thread (content-addressed files, so
 * the two threads never write the same name half-way). The raw bytes are not sent back: the main thread has them.
 */
const blobs = new BlobStore((workerData as { blobRoot: string }).blobRoot);
const port = parentPort!;
let chain: Promise<void> = Promise.resolve();

port.on('message', (req: ParseRequest) => {
  chain = chain.then(() => answer(req));
});
port.postMessage({ ready: true });
// While the first mails are awaited: every blob's directory ready, so that no parse waits for a mkdir.
void blobs.makeFanOut();

async function answer(req: ParseRequest): Promise<void> {
  const raw = Buffer.from(req.raw.buffer, req.raw.byteOffset, req.raw.byteLength);
  let reply: ParseReply;
  try {
    const { raw: _mine, ...mail } = await parseMail(raw, { timeoutMs: req.timeoutMs }, req.rawSha256, blobs);
    reply = { id: req.id, mail };
  } catch (err) {
    const e = err as Error;
    reply = { id: req.id, error: isMesaError(err) ? { code: err.code, detail: err.detail } : { detail: String(e?.message ?? e).slice(0, 300) } };
  }
  port.postMessage(reply);
}
