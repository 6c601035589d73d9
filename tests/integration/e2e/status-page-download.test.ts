import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, rssOf, startMesa, stopMesa, type RunningCli } from '../../support/cli.ts';
import { waitFor } from '../../support/wait.ts';
import { linkOfCaseBeforeStart } from '../web/support.ts';

/**
 * Downloads of a case's attachment from the case page, against the real `mesa start` in a child process, over real
 * HTTP, with the child's resident memory read from /proc: the file is sent as it is read from disk, so eight people
 * downloading a 20 MB file at once are not eight 20 MB Buffers in the server. Before, each download read the whole
 * file into memory first.
 */
const MB = 1024 * 1024;
const FILE = crypto.randomBytes(20 * MB);
let mesa: RunningCli;
let base: string;
let href: string;
let dataDir: string;

/** A download that stops reading after its first bytes, as a slow client does, until `finish()`. */
function slowDownload(): Promise<{
  headers: http.IncomingHttpHeaders;
  finish(): Promise<Buffer>;
  abort(): void;
}> {
  return new Promise((resolve, reject) => {
    const req = http
      .get(`${base}${href}`, (res) => {
        const chunks: Buffer[] = [];
        res.once('data', (first: Buffer) => {
          chunks.push(first);
          res.pause();
          resolve({
            headers: res.headers,
            abort: () => req.destroy(),
            finish: () =>
              new Promise((done) => {
                res.on('data', (c: Buffer) => chunks.push(c));
                res.on('end', () => done(Buffer.concat(chunks)));
                res.resume();
              }),
          });
        });
      })
      .on('error', reject);
  });
}

beforeAll(async () => {
  const { config, env } = await cliEnv({ HTTP_PORT: '0', LOG_LEVEL: 'info' });
  dataDir = config.dataDir;
  const path = await linkOfCaseBeforeStart(
    config,
    {
      from: 'Laura Gómez <laura@cliente.test>',
      subject: 'El respaldo',
      text: 'Adjunto el respaldo de la base.',
      attachments: [{ filename: 'respaldo.bin', content: FILE, contentType: 'application/octet-stream' }],
    },
    'laura@cliente.test',
  );
  ({ mesa, base } = await startMesa(env));
  const page = await (await fetch(`${base}${path}`)).text();
  href = /href="([^"]+\/adjuntos\/\d+)" download>respaldo\.bin</.exec(page)![1];
}, 60_000);

afterAll(() => stopMesa(mesa));

describe('a 20 MB attachment on the case page', () => {
  it('downloads whole, as a sandboxed attachment with its length', async () => {
    const res = await fetch(`${base}${href}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(FILE.length));
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="respaldo.bin"');
    expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox");
    expect(Buffer.from(await res.arrayBuffer()).equals(FILE)).toBe(true);
  });

  it('leaves no file open after HEAD requests and clients that hang up halfway', async () => {
    const pid = mesa.child.pid!;
    // The server's open files in the blob store (its sockets and database connections come and go on their own).
    const openBlobs = () =>
      fs.readdirSync(`/proc/${pid}/fd`).filter((fd) => {
        const target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`, { encoding: 'utf8' }) as string;
        return target.startsWith(`${dataDir}/blobs/`);
      }).length;
    const inFlight = await slowDownload();
    expect(openBlobs()).toBe(1);
    await inFlight.finish();
    for (let i = 0; i < 20; i++) {
      const head = await fetch(`${base}${href}`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe(String(FILE.length));
    }
    const dropped = await Promise.all(Array.from({ length: 20 }, () => slowDownload()));
    for (const d of dropped) d.abort();
    await waitFor('the answers of the clients that hung up closed', () => openBlobs() === 0);
  });

  it('taken by eight slow clients at once, is read from disk as they go: the memory does not hold eight copies', async () => {
    const pid = mesa.child.pid!;
    // Warm up the path (first requests load code), then read the baseline.
    await (await slowDownload()).finish();
    const before = rssOf(pid);
    const slow = await Promise.all(Array.from({ length: 8 }, () => slowDownload()));
    const during = rssOf(pid);
    console.log(
      `[download] RSS before ${(before / MB).toFixed(1)} MB, with 8 × 20 MB downloads in flight ${(during / MB).toFixed(1)} MB`,
    );
    // Each client holds its answer open: a server that read the file whole would hold 8 × 20 MB now.
    expect(during - before).toBeLessThan(40 * MB);
    const got = await Promise.all(slow.map((d) => d.finish()));
    for (const body of got) expect(body.equals(FILE)).toBe(true);
  }, 120_000);
});
