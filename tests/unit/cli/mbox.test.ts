import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { MboxScanner, mboxMessage, splitMbox, unquotedMboxMessage } from '../../../src/cli/mbox.ts';

const mbox = (lines: string[], eol = '\n') => Buffer.from(lines.join(eol), 'latin1');
const texts = (b: Buffer[]) => b.map((m) => m.toString('latin1'));

describe('mbox (RFC 4155)', () => {
  it('splits at "From " lines at the start or after a blank line, and undoes ">From " quoting', () => {
    const file = mbox([
      'From ana@empresa.co Mon Dec  7 10:00:00 2026',
      'Subject: uno',
      '',
      'Hola.',
      'From here on it is the body: no blank line before it.',
      '>From quoted once',
      '>>From quoted twice',
      '',
      'From beto@empresa.co Mon Dec  7 10:01:00 2026',
      'Subject: dos',
      '',
      'Chao.',
      '',
    ]);
    expect(texts(splitMbox(file))).toEqual([
      'Subject: uno\n\nHola.\nFrom here on it is the body: no blank line before it.\nFrom quoted once\n>From quoted twice\n',
      'Subject: dos\n\nChao.',
    ]);
  });

  it('reads CRLF files the same way, and drops a message of only blank lines', () => {
    const file = mbox(
      ['From a Mon', 'Subject: uno', '', 'Hola.', '', 'From b Mon', '', '\u00a0 \t', '', 'From c Mon', 'X: 3', ''],
      '\r\n',
    );
    expect(texts(splitMbox(file))).toEqual(['Subject: uno\r\n\r\nHola.\r\n', 'X: 3']);
  });

  it('takes a line longer than any chunk (an attachment never wrapped) as one line of its message', () => {
    const long = 'A'.repeat(3 * 1024 * 1024);
    const file = mbox(['From a Mon', 'Subject: uno', '', long, 'From b is body', '', 'From b Mon', 'X: 2', '']);
    const scanner = new MboxScanner();
    for (let i = 0; i < file.length; i += 64 * 1024) scanner.push(file.subarray(i, i + 64 * 1024));
    const [first, second] = scanner.end();
    expect(file.subarray(first.start, first.end).toString('latin1')).toBe(
      `Subject: uno\n\n${long}\nFrom b is body\n\n`,
    );
    expect(file.subarray(second.start, second.end).toString('latin1')).toBe('X: 2\n');
  });

  it('finds the same messages whatever the chunks the file arrives in', () => {
    const file = mbox(
      [
        'From a Mon',
        'Subject: uno',
        '',
        'From b is body',
        '',
        'From b Mon',
        'Subject: dos',
        '',
        '>From c',
        '',
        '',
        'From c Mon',
        'Subject: tres',
      ],
      '\r\n',
    );
    const whole = new MboxScanner();
    whole.push(file);
    const expected = whole.end();
    expect(expected).toHaveLength(3);
    for (const size of [1, 2, 3, 5, 7, 64]) {
      const s = new MboxScanner();
      for (let i = 0; i < file.length; i += size) s.push(file.subarray(i, i + size));
      expect(s.end(), `chunks of ${size}`).toEqual(expected);
    }
  });

  it('unquotes a message as a stream to the same bytes as whole, whatever the chunks and line ends', async () => {
    // A fixed pseudo-random sequence: the same 2000 messages every run.
    let seed = 20261207;
    const next = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
    const lines = ['>From x', '>>From y', '>', '>>', 'From', '>Fro', '>From', 'body', '', '\r', ' >From', '>F'];
    for (let m = 0; m < 2000; m++) {
      const eol = ['\n', '\r\n', '\r'][next(3)];
      let text = Array.from({ length: 1 + next(8) }, () => lines[next(lines.length)]).join(eol);
      if (next(2)) text += eol;
      const bytes = Buffer.from(text, 'latin1');
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length;) {
        const size = 1 + next(5);
        chunks.push(bytes.subarray(i, i + size));
        i += size;
      }
      const streamed: Buffer[] = [];
      for await (const c of unquotedMboxMessage(Readable.from(chunks))) streamed.push(c);
      expect(Buffer.concat(streamed).toString('latin1'), JSON.stringify(text)).toBe(
        mboxMessage(bytes).toString('latin1'),
      );
    }
  });
});
