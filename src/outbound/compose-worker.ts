import { parentPort } from 'node:worker_threads';
import { ownBytes } from '../thread-bytes.ts';
import { composeMessage } from './compose.ts';
import type { ComposeReply, ComposeRequest } from './compose-thread.ts';

/**
 * The compose thread's body (see compose-thread.ts): a mail's options in, its MIME message out, by transfer; every
 * answer names its request.
 */
const port = parentPort!;

let chain: Promise<void> = Promise.resolve();

// One at a time, in order: nodemailer composes through streams, and mails composed together would all finish late,
// while the dispatcher sends the first claimed first.
port.on('message', (req: ComposeRequest) => {
  chain = chain.then(() => answer(req));
});
port.postMessage({ ready: true });

async function answer(req: ComposeRequest): Promise<void> {
  let reply: ComposeReply;
  try {
    const message = await composeMessage(req.options);
    reply = { id: req.id, message: ownBytes(message) };
  } catch (err) {
    const e = err as Error & { code?: string };
    reply = { id: req.id, error: { message: String(e?.message ?? e).slice(0, 500), code: e?.code } };
  }
  port.postMessage(reply, 'message' in reply ? [reply.message.buffer as ArrayBuffer] : []);
}
