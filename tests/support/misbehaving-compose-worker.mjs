import { parentPort } from 'node:worker_threads';
import { interceptRequests } from './thread-body.mjs';

/**
 * The real compose thread body (built: dist/src/outbound/compose-worker.js; plain JavaScript here, since Node 20
 * cannot start a TypeScript file as a thread), except for three kinds of mail: one whose subject is `crash-composer`
 * ends the thread once it has received it, one whose subject is `hang-composer` spins it forever, and one whose
 * subject is `refused-composer` is answered with the error nodemailer gives a mail it cannot compose (EMESSAGE).
 * Nothing real is known to do any of them; the dispatcher must cope.
 */
const port = parentPort;
interceptRequests(port, (listener) => (req) => {
  if (req.options.subject === 'crash-composer') process.exit(3);
  if (req.options.subject === 'hang-composer') for (;;);
  if (req.options.subject === 'refused-composer')
    return port.postMessage({ id: req.id, error: { message: 'mensaje imposible', code: 'EMESSAGE' } });
  listener(req);
});
await import('../../dist/src/outbound/compose-worker.js');
