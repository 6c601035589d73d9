import fs from 'node:fs';
import http from 'node:http';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, rssOf, startMesa, stopMesa, type RunningCli } from '../../support/cli.ts';
import { countByState } from '../../../src/db/repos/outbox.ts';
import { openDatabase } from '../../../src/db/knex.ts';
import { waitFor } from '../../support/wait.ts';
import { linkOfCaseBeforeStart, messageForm } from '../web/support.ts';

/**
 * Issue 23, "memory exhaustion before any check": 10 files of 24 MB posted to the case page's message form. Against
 * the real `mesa start` in a child process, over real HTTP, with the child's resident memory read from /proc before
 * and after. A bad link and a good link without its CSRF token are refused before the body is read: the server's
 * memory does not grow, and the client gets to send only a small part of its 240 MB before the answer and the close.
 */
const MB = 1024 * 1024;
const FILE = 24 * MB;
let mesa: RunningCli;
let base: string;
let page: { path: string; cookie: string; action: string };
let dataDir: string;

/** The files left in the blob store's temporary folder (none, or no folder at all). */
function staged(): string[] {
  return fs.existsSync(`${dataDir}/blobs/tmp`) ? fs.readdirSync(`${dataDir}/blobs/tmp`) : [];
}

/** The multipart body of `files` files of `size` bytes each, generated as it is sent (never whole in memory). */
function hugeForm(files: number, size: number): { contentType: string; body: Readable } {
  const boundary = '----mesaGrande';
  const chunk = Buffer.alloc(256 * 1024, 0x61);
  async function* parts() {
    yield Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="nonce"\r\n\r\nnonce-de-prueba-0123456789\r\n`,
    );
    yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="mensaje"\r\n\r\nVan los archivos\r\n`);
    for (let f = 0; f < files; f++) {
      yield Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="adjuntos"; filename="grande-${f}.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`,
      );
      for (let sent = 0; sent < size; sent += chunk.length)
        yield chunk.subarray(0, Math.min(chunk.length, size - sent));
      yield Buffer.from('\r\n');
    }
    yield Buffer.from(`--${boundary}--\r\n`);
  }
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: Readable.from(parts()) };
}

/** Posts a generated body (chunked, no Content-Length) and resolves with the answer and how much of the body left. */
function postHuge(
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string; sentBytes: number; closed: Promise<void> }> {
  const { contentType, body } = hugeForm(10, FILE);
  return new Promise((resolve, reject) => {
    let sentBytes = 0;
    const req = http.request(
      `${base}${path}`,
      { method: 'POST', headers: { 'content-type': contentType, ...headers } },
      (res) => {
        // A client that got its answer stops sending, as browsers do.
        body.destroy();
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, text, sentBytes, closed }));
      },
    );
    const closed = new Promise<void>((r) => req.once('close', () => r()));
    // The server closes the connection after its answer: writes after that fail, as they should; a failure before
    // any answer fails the test.
    req.on('error', (err) => reject(err));
    body.on('data', (c: Buffer) => {
      sentBytes += c.length;
      if (!req.write(c)) body.pause();
    });
    req.on('drain', () => body.resume());
    body.on('end', () => req.end());
  });
}

beforeAll(async () => {
  // The hourly post limits have their own tests (tests/web/post-limits.test.ts): here they stay out of the way.
  const { config, env } = await cliEnv({
    HTTP_PORT: '0',
    LOG_LEVEL: 'info',
    WEB_POSTS_PER_LINK: '100',
    WEB_POSTS_PER_IP: '100',
  });
  dataDir = config.dataDir;
  // The case and its link, written to the database the server will use.
  const path = await linkOfCaseBeforeStart(
    config,
    {
      from: 'Laura Gómez <laura@cliente.test>',
      subject: 'Adjuntos grandes',
      text: 'Hola',
    },
    'laura@cliente.test',
  );
  ({ mesa, base } = await startMesa(env));
  // The case's own mail (its confirmation, the consultants' notices) leaves first, before any memory is read: what
  // sending it takes (a burst starts the compose thread, src/outbound/compose-thread.ts) is not the uploads' doing.
  const db = openDatabase(config.database);
  try {
    await waitFor('el correo del caso, enviado', async () => {
      const s = await countByState(db);
      return (s.sent ?? 0) > 0 && !s.pending && !s.sending;
    });
  } finally {
    await db.destroy();
  }
  const res = await fetch(`${base}${path}`);
  expect(res.status).toBe(200);
  const html = await res.text();
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  page = { path, cookie, action: messageForm(html).action };
}, 60_000);

afterAll(() => stopMesa(mesa));

describe('a 10 × 24 MB upload to the case page', () => {
  it('to a bad link, or to a good link without the CSRF token, is refused before its body is read; the memory stays', async () => {
    const pid = mesa.child.pid!;
    // Warm up the paths the refusals take (first requests load code), then read the baseline.
    const warm = await Promise.all(
      [1, 2, 3, 4].flatMap(() => [
        postHuge('/caso/1.1.abc.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/mensaje'),
        postHuge(`${page.path}/mensaje`, { cookie: page.cookie }),
      ]),
    );
    expect(warm.map((r) => r.status).sort()).toEqual([403, 403, 403, 403, 404, 404, 404, 404]);
    const before = rssOf(pid);

    const bad = await Promise.all(
      [1, 2, 3, 4].map(() => postHuge('/caso/1.1.abc.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/mensaje')),
    );
    const noCsrf = await Promise.all([1, 2, 3, 4].map(() => postHuge(`${page.path}/mensaje`, { cookie: page.cookie })));
    const after = rssOf(pid);
    console.log(
      `[upload] RSS before ${(before / MB).toFixed(1)} MB, after 8 × 240 MB refused ${(after / MB).toFixed(1)} MB; sent before the answer: ${[...bad, ...noCsrf].map((r) => (r.sentBytes / MB).toFixed(1)).join(', ')} MB`,
    );

    for (const r of bad) {
      expect(r.status).toBe(404);
      expect(r.text).toContain('No encontramos esta página.');
    }
    for (const r of noCsrf) {
      expect(r.status).toBe(403);
      expect(r.text).toContain('El formulario caducó');
    }
    for (const r of [...bad, ...noCsrf]) {
      // The answer came long before the 240 MB were sent: what left is what the socket buffers held.
      expect(r.sentBytes).toBeLessThan(16 * MB);
      // And the server closed the connection (the client stopped; the server does not wait for the rest).
      await r.closed;
    }
    expect(after - before).toBeLessThan(8 * MB);
    // Nothing of the refused bodies reached the disk either.
    expect(staged()).toEqual([]);
  }, 120_000);

  it('with a good link and its token, is read as it arrives and refused at the total limit (413), nothing kept', async () => {
    const pid = mesa.child.pid!;
    const before = rssOf(pid);
    const r = await postHuge(page.action, { cookie: page.cookie });
    const first = rssOf(pid);
    expect(r.status).toBe(413);
    expect(r.text).toContain('el límite es 25 MB entre todos los de un mensaje');
    await r.closed;
    // The first file (24 MB) fit; the second crossed WEB_UPLOAD_MAX_BYTES (25 MB) and the reading stopped there.
    expect(r.sentBytes).toBeLessThan(48 * MB);
    // Four at once (the 1.1 GB): each is read through disk, in chunks, and the memory does not add up.
    const four = await Promise.all([1, 2, 3, 4].map(() => postHuge(page.action, { cookie: page.cookie })));
    const after = rssOf(pid);
    console.log(
      `[upload] good link: RSS ${(before / MB).toFixed(1)} -> ${(first / MB).toFixed(1)} (one) -> ${(after / MB).toFixed(1)} MB (four more at once); sent before the 413: ${[r, ...four].map((x) => (x.sentBytes / MB).toFixed(1)).join(', ')} MB`,
    );
    for (const x of four) expect(x.status).toBe(413);
    // The first one's growth is the allocator keeping what the 24 MB passed through (garbage not yet collected, pages
    // not given back); four more at once, 116 MB of body between them, add less than one file: nothing is held whole.
    expect(first - before).toBeLessThan(48 * MB);
    expect(after - first).toBeLessThan(FILE);
    expect(staged()).toEqual([]);
    const blobs = fs
      .readdirSync(`${dataDir}/blobs`, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && fs.statSync(`${e.parentPath}/${e.name}`).size >= FILE);
    expect(blobs).toEqual([]);
  }, 120_000);
});
