import fs from 'node:fs';

/**
 * mbox files (RFC 4155): each message begins at a line "From " at the start of the file or after a blank line, and
 * ">From " quoting (mboxrd) is undone. Kept here because the npm mbox readers are unmaintained.
 *
 * An export of a whole mailbox (Gmail's Takeout, Thunderbird) runs to gigabytes: more than one Buffer or string can
 * hold. So the file is scanned as a stream for where each message lies (MboxScanner), and each message is read on its
 * own when its turn comes (readMboxMessage): one message in memory at a time.
 */

/** Where one message lies in the file: from the byte after its "From " line to the next such line. */
export interface MboxEntry {
  start: number;
  end: number;
}

/** Whitespace as String.prototype.trim sees it in a latin1 string: a message of only these is no message. */
const BLANK_BYTES = new Set([0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0xa0]);
const FROM_ = Buffer.from('From ', 'latin1');

/** Finds the messages of an mbox in chunks of it, pushed in order; no chunk is kept beyond an unfinished line. */
export class MboxScanner {
  private readonly entries: MboxEntry[] = [];
  private carry = Buffer.alloc(0);
  private offset = 0;
  private open: { start: number; content: boolean } | undefined;
  private previousBlank = false;

  push(chunk: Buffer): void {
    const buf = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    let i = 0;
    for (let nl = buf.indexOf(0x0a, i); nl >= 0; nl = buf.indexOf(0x0a, i)) {
      this.line(buf.subarray(i, nl + 1), this.offset + i);
      i = nl + 1;
    }
    this.carry = Buffer.from(buf.subarray(i));
    this.offset += i;
  }

  /** The messages found, once every chunk was pushed. */
  end(): MboxEntry[] {
    if (this.carry.length) this.line(this.carry, this.offset, false);
    this.close(this.offset + this.carry.length);
    return this.entries;
  }

  /** `terminated`: the line ends with its line feed (a "From " line the file ends in without one is body). */
  private line(line: Buffer, at: number, terminated = true): void {
    const startsMessage = terminated && (at === 0 || this.previousBlank) && line.subarray(0, 5).equals(FROM_);
    if (startsMessage) {
      this.close(at);
      this.open = { start: at + line.length, content: false };
    } else if (this.open && !this.open.content) {
      this.open.content = line.some((b) => !BLANK_BYTES.has(b));
    }
    this.previousBlank = line.length === 1 || (line.length === 2 && line[0] === 0x0d) || line.length === 0;
  }

  private close(end: number): void {
    if (this.open?.content) this.entries.push({ start: this.open.start, end });
    this.open = undefined;
  }
}

/** One message's bytes as the mbox holds them, without its separator's line end and with ">From " unquoted. */
export function mboxMessage(bytes: Buffer): Buffer {
  const text = bytes
    .toString('latin1')
    .replace(/\r?\n$/, '')
    .replace(/^>(>*From )/gm, '$1');
  return Buffer.from(text, 'latin1');
}

/** Where the messages of an mbox file lie, read as a stream. */
export async function scanMboxFile(file: string): Promise<MboxEntry[]> {
  const scanner = new MboxScanner();
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1024 * 1024 })) scanner.push(chunk as Buffer);
  return scanner.end();
}

/**
 * The messages of an mbox file, read from where the scan found them through one file handle: opened with the first
 * read, closed after the last message's (or, should the import stop before it, with the process).
 */
export class MboxFile {
  private handle?: Promise<fs.promises.FileHandle>;
  private left: number;

  constructor(
    private readonly file: string,
    readonly entries: readonly MboxEntry[],
  ) {
    this.left = entries.length;
  }

  async read(entry: MboxEntry): Promise<Buffer> {
    const fh = await (this.handle ??= fs.promises.open(this.file, 'r'));
    const bytes = Buffer.alloc(entry.end - entry.start);
    const { bytesRead } = await fh.read(bytes, 0, bytes.length, entry.start);
    if (--this.left === 0) await fh.close();
    return mboxMessage(bytes.subarray(0, bytesRead));
  }
}

/** The messages of an mbox already in memory (the corpus report's small files). */
export function splitMbox(data: Buffer): Buffer[] {
  const scanner = new MboxScanner();
  scanner.push(data);
  return scanner.end().map((e) => mboxMessage(data.subarray(e.start, e.end)));
}
