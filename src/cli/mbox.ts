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

/**
 * Finds the messages of an mbox in chunks of it, pushed in order. Of each line it keeps only what the rules ask (how
 * far it matches "From ", its first byte, its length, whether it has anything but blanks), never the line: a file of
 * one 500 MB line costs no more memory than one of short lines.
 */
export class MboxScanner {
  private readonly entries: MboxEntry[] = [];
  private open: { start: number; content: boolean } | undefined;
  private previousBlank = false;
  /** The line being read: where it starts, how many of its first bytes are "From " (-1: not that), its first byte,
   * its length so far, whether it has a non-blank byte. */
  private lineStart = 0;
  private fromMatched = 0;
  private first = -1;
  private length = 0;
  private content = false;

  push(chunk: Buffer): void {
    let i = 0;
    for (let nl = chunk.indexOf(0x0a, i); nl >= 0; nl = chunk.indexOf(0x0a, i)) {
      this.take(chunk, i, nl);
      this.endLine(true);
      i = nl + 1;
    }
    this.take(chunk, i, chunk.length);
  }

  /** The messages found, once every chunk was pushed. */
  end(): MboxEntry[] {
    const total = this.lineStart + this.length;
    if (this.length) this.endLine(false);
    this.close(total);
    return this.entries;
  }

  /** Bytes [from, to) of `chunk`, the next ones of the current line. */
  private take(chunk: Buffer, from: number, to: number): void {
    if (from >= to) return;
    if (this.length === 0) this.first = chunk[from];
    for (let k = from; this.fromMatched >= 0 && this.fromMatched < FROM_.length && k < to; k++)
      this.fromMatched = chunk[k] === FROM_[this.fromMatched] ? this.fromMatched + 1 : -1;
    // Only while the open message has shown nothing but blanks is a line's content worth a look.
    if (this.open && !this.open.content && !this.content)
      for (let k = from; k < to && !this.content; k++) this.content = !BLANK_BYTES.has(chunk[k]);
    this.length += to - from;
  }

  /** `terminated`: the line ends with its line feed (a "From " line the file ends in without one is body). */
  private endLine(terminated: boolean): void {
    const at = this.lineStart;
    const startsMessage = terminated && (at === 0 || this.previousBlank) && this.fromMatched === FROM_.length;
    const next = at + this.length + (terminated ? 1 : 0);
    if (startsMessage) {
      this.close(at);
      this.open = { start: next, content: false };
    } else if (this.open && this.content) {
      this.open.content = true;
    }
    this.previousBlank = this.length === 0 || (this.length === 1 && this.first === 0x0d);
    this.lineStart = next;
    this.fromMatched = 0;
    this.length = 0;
    this.content = false;
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
