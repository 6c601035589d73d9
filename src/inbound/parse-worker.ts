import fs from 'node:fs';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { BlobStore } from '../storage/blobs.ts';
import { isMesaError } from '../errors.ts';
import { parseMail } from './parse.ts';
import type { ParseReply, ParseRequest } from './parser.ts';

/**
 * The parse thread's body (see parse-thread.ts): raw mail in, the parsed mail out, one request at a time and in
 * order. Attachments are streamed into the same blob store as on the main thread (content-addressed files, so
 * the two threads never write the same name half-way). The raw bytes are not sent back, the main thread has them;
 * except a large mail's, which were transferred here: they go back with the answer, by transfer again.
 */
const blobs = new BlobStore((workerData as { blobRoot: string }).blobRoot);
const port = parentPort!;
let chain: Promise<void> = Promise.resolve();

port.on('message', (req: ParseRequest) => {
  if (req.spill) spill(req.spill, req.raw);
  chain = chain.then(() => answer(req));
});
port.postMessage({ ready: true });
// While the first mails are awaited: every blob's directory ready, so that no parse waits for a mkdir.
void blobs.makeFanOut();

/** A transferred mail's bytes, on disk as soon as they arrive: if its parse kills this thread, they are not lost. */
function spill(file: string, raw: Uint8Array): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, raw);
  } catch {
    // A full disk: the parse still runs; only a crash of this thread would then cost a retry of the mail.
  }
}

async function answer(req: ParseRequest): Promise<void> {
  const raw = Buffer.from(req.raw.buffer, req.raw.byteOffset, req.raw.byteLength);
  const back = req.spill ? { raw: req.raw } : {};
  let reply: ParseReply;
  try {
    const { raw: _mine, ...mail } = await parseMail(
      raw,
      { timeoutMs: req.timeoutMs, maxAttachmentBytes: req.maxAttachmentBytes },
      req.rawSha256,
      blobs,
    );
    reply = { id: req.id, mail, ...back };
  } catch (err) {
    const e = err as Error;
    reply = {
      id: req.id,
      error: isMesaError(err)
        ? { code: err.code, detail: err.detail }
        : { detail: String(e?.message ?? e).slice(0, 300) },
      ...back,
    };
  }
  port.postMessage(reply, req.spill ? [req.raw.buffer as ArrayBuffer] : []);
}
