import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { contentHash } from '../../../src/inbound/content-hash.ts';
import { parseMail } from '../../../src/inbound/parse.ts';
import { BlobStore } from '../../../src/storage/blobs.ts';
import { generateMails, mailWithAttachment } from '../../bench/corpus.ts';
import { CORPUS_DIR } from '../../support/corpus.ts';

/**
 * Regression (npm run bench, peak RSS with a 25 MB attachment): contentHash used to turn the body into three
 * latin1 strings. It now hashes the buffer in place; the hashes must stay exactly what the ledger already holds,
 * so the string version is kept here as the reference.
 */
const TRACE =
  /^(received|delivered-to|x-original-to|envelope-to|x-envelope-to|return-path|x-received|authentication-results|arc-[a-z-]+|received-spf|x-spam[a-z-]*|x-virus[a-z-]*|x-apparently-to|x-mesa-[a-z-]+|x-gm-[a-z-]+|x-google-smtp-source|x-ms-exchange-[a-z-]+|x-forefront-[a-z-]+|x-microsoft-[a-z-]+):/i;

function referenceHash(raw: Buffer): string {
  let end = raw.indexOf('\r\n\r\n');
  let sepLen = 4;
  const lf = raw.indexOf('\n\n');
  if (lf >= 0 && (end < 0 || lf < end)) {
    end = lf;
    sepLen = 2;
  }
  if (end < 0) return BlobStore.sha256(raw);
  const head = raw.subarray(0, end).toString('latin1').replace(/\r\n/g, '\n');
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
  const body = raw
    .subarray(end + sepLen)
    .toString('latin1')
    .replace(/\r\n/g, '\n')
    .replace(/\s+$/, '');
  return BlobStore.sha256(Buffer.from(kept.join('\n') + '\n\n' + body, 'latin1'));
}

function corpusFiles(): string[] {
  const dir = CORPUS_DIR;
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(eml|txt|msg)$/i.test(e.name) && out.length < 3000) out.push(p);
    }
  };
  walk(dir);
  return out;
}

describe('contentHash', () => {
  it('hashes generated and corpus mail exactly as the string version did', () => {
    const mails = [...generateMails(60).map((m) => m.raw), ...corpusFiles().map((f) => fs.readFileSync(f))];
    for (const raw of mails) expect(contentHash(raw)).toBe(referenceHash(raw));
  });

  it('matches on bodies full of CR, LF, NBSP, NEL and trailing whitespace', () => {
    const alphabet = [0x0d, 0x0a, 0x20, 0x09, 0xa0, 0x85, 0x0b, 0x0c, 0x41, 0x7a, 0xff, 0x00];
    for (let n = 0; n < 500; n++) {
      const bytes = crypto.randomBytes(1 + (n % 97));
      const body = Buffer.from([...bytes].map((b) => alphabet[b % alphabet.length]));
      const sep = n % 2 ? '\r\n\r\n' : '\n\n';
      const raw = Buffer.concat([
        Buffer.from(`From: a@b.co\r\nReceived: x${n}\r\nSubject: s${n % 5}${sep}`, 'latin1'),
        body,
      ]);
      expect(contentHash(raw)).toBe(referenceHash(raw));
    }
  });

  it('hashes a mail with a 25 MB attachment like the reference, and whitespace-only mail is refused as empty', async () => {
    const big = mailWithAttachment(25_000_000);
    expect(contentHash(big)).toBe(referenceHash(big));
    await expect(parseMail(Buffer.from(' \r\n\t\xa0\r\n', 'latin1'))).rejects.toMatchObject({ code: 'MAIL_EMPTY' });
    await expect(parseMail(Buffer.from('\r\n x', 'latin1'))).resolves.toBeDefined();
  });
});
