import { parentPort } from 'node:worker_threads';
import { interceptRequests } from './thread-body.mjs';

/**
 * The real parse thread body (built: dist/src/inbound/parse-worker.js; plain JavaScript here, since Node 20 cannot
 * start a TypeScript file as a thread), except for two kinds of mail that no real mail is known
 * to trigger but a hostile one might: one whose Subject says `crash-parser` ends the thread, and one that says
 * `hang-parser` spins it forever (a parse stuck in a loop never yields to its own timer). Each request reaches the
 * real body only once the one before it was answered, so the misbehaviour happens in its turn, as a parse's would,
 * after the real body has received it.
 */
const port = parentPort;
const post = port.postMessage.bind(port);
const answered = new Map();
let turn = Promise.resolve();
port.postMessage = (reply, transfer) => {
  post(reply, transfer);
  if (reply.id !== undefined) answered.get(reply.id)?.();
};
interceptRequests(port, (listener) => (req) => {
  const mine = turn;
  turn = new Promise((resolve) => answered.set(req.id, resolve));
  void mine.then(() => {
    const text = Buffer.from(req.raw).toString('latin1');
    // The real body has received it (and kept a transferred mail's bytes, as it does on receipt); then the parse
    // misbehaves.
    listener(req);
    if (text.includes('Subject: crash-parser')) process.exit(3);
    if (text.includes('Subject: hang-parser')) for (;;);
  });
});
await import('../../dist/src/inbound/parse-worker.js');
