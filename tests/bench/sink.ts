import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';

/**
 * The benchmark's SMTP sink: accepts everything on 127.0.0.1, keeps for each mail its arrival time and the few
 * headers the figures need (In-Reply-To to tie a confirmation to the mail that caused it), and lets a caller
 * await "n mails so far" without polling.
 */
export interface SinkMail {
  at: number;
  to: string[];
  subject: string;
  inReplyTo?: string;
  references?: string;
  messageId?: string;
  bench?: string;
}

export interface BenchSink {
  host: string;
  port: number;
  mails: SinkMail[];
  waitFor(predicate: (m: SinkMail) => boolean, count: number, timeoutMs: number): Promise<number>;
  reset(): void;
  stop(): Promise<void>;
}

export async function startBenchSink(): Promise<BenchSink> {
  const mails: SinkMail[] = [];
  let waiters: Array<() => void> = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    size: 64 * 1024 * 1024,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      let headerDone = false;
      stream.on('data', (c: Buffer) => {
        if (!headerDone) {
          chunks.push(c);
          headerDone = Buffer.concat(chunks).includes('\r\n\r\n');
        }
      });
      stream.on('end', () => {
        const head = Buffer.concat(chunks)
          .toString('utf8')
          .split('\r\n\r\n')[0]
          .replace(/\r\n[ \t]+/g, ' ');
        const h = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(head)?.[1]?.trim();
        mails.push({
          at: performance.now(),
          to: session.envelope.rcptTo.map((r) => r.address),
          subject: h('Subject') ?? '',
          inReplyTo: h('In-Reply-To'),
          references: h('References'),
          messageId: h('Message-ID'),
          bench: h('X-Mesa-Bench'),
        });
        const w = waiters;
        waiters = [];
        for (const fn of w) fn();
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.server.address() as AddressInfo;
  return {
    host: '127.0.0.1',
    port,
    mails,
    waitFor(predicate, count, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`sink: ${mails.filter(predicate).length}/${count} correos en ${timeoutMs} ms`)),
          timeoutMs,
        );
        const check = () => {
          const n = mails.filter(predicate).length;
          if (n >= count) {
            clearTimeout(timer);
            resolve(performance.now());
          } else waiters.push(check);
        };
        check();
      });
    },
    reset() {
      mails.length = 0;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
