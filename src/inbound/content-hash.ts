import crypto from 'node:crypto';
import { BlobStore } from '../storage/blobs.ts';
import { headerBlockEnd } from './header-values.ts';

/**
 * The hash that says two deliveries are the same message: the raw source without the trace headers each hop adds
 * (Received, Delivered-To, Authentication-Results…), with line ends and trailing white space made alike.
 */

/** Headers an MTA adds on the way in; they differ between two deliveries of one message. */
const TRACE = new RegExp(
  '^(' +
    'received|delivered-to|x-original-to|envelope-to|x-envelope-to|return-path|x-received|authentication-results|' +
    'arc-[a-z-]+|received-spf|x-spam[a-z-]*|x-virus[a-z-]*|x-apparently-to|x-mesa-[a-z-]+|x-gm-[a-z-]+|' +
    'x-google-smtp-source|x-ms-exchange-[a-z-]+|x-forefront-[a-z-]+|x-microsoft-[a-z-]+' +
    '):',
  'i',
);

export function contentHash(raw: Buffer): string {
  const block = headerBlockEnd(raw);
  if (!block) return BlobStore.sha256(raw);
  const head = raw.subarray(0, block.end).toString('latin1').replace(/\r\n/g, '\n');
  const kept: string[] = [];
  let skipping = false;
  for (const line of head.split('\n')) {
    if (/^[ \t]/.test(line)) {
      if (!skipping) kept.push(line);
      continue;
    }
    skipping = TRACE.test(line);
    if (!skipping) kept.push(line);
  }
  // The body, CRLF as LF and trailing whitespace dropped. Same bytes hashed as the string version this replaced
  // (tests/unit/inbound/content-hash.test.ts). A small body goes in as one string: one update() instead of one per
  // line, for the mail most of the traffic is. A large one is hashed in place: a 25 MB attachment, base64 in the
  // source, must not become a second copy of itself as a string.
  const hash = crypto.createHash('sha256').update(`${kept.join('\n')}\n\n`, 'latin1');
  const body = raw.subarray(block.body);
  let stop = body.length;
  while (stop > 0 && isSpaceByte(body[stop - 1])) stop--;
  if (stop <= SMALL_BODY)
    return hash.update(body.toString('latin1', 0, stop).replace(/\r\n/g, '\n'), 'latin1').digest('hex');
  for (let pos = 0; pos < stop;) {
    const crlf = body.indexOf(CRLF, pos);
    if (crlf < 0 || crlf >= stop) {
      hash.update(body.subarray(pos, stop));
      break;
    }
    hash.update(body.subarray(pos, crlf)).update(LF);
    pos = crlf + 2;
  }
  return hash.digest('hex');
}

const CRLF = Buffer.from('\r\n');
const SMALL_BODY = 256 * 1024;
const LF = Buffer.from('\n');

/** What JavaScript's \s and String.trim() match among single bytes read as latin1: TAB, LF, VT, FF, CR, space, NBSP. */
export function isSpaceByte(b: number): boolean {
  return (b >= 0x09 && b <= 0x0d) || b === 0x20 || b === 0xa0;
}
