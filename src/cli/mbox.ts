import fs from 'node:fs';
import type { FetchedSource, SourceReader } from '../inbound/index.ts';

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

/**
 * mboxMessage() as a stream, for a message too large to read whole: the same bytes in the same order. A line starts
 * after a line feed or a carriage return, as the pattern's `^` sees it. What is held back is bounded: the first '>' of
 * a line's run of them and the few bytes of a "From " that may follow (the '>'s are all alike, so the others go out at
 * once), and a line end that may be the separator's (/\r?\n$/).
 */
export async function* unquotedMboxMessage(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let held: number[] = []; // a line end not yet known to be inside the message: [], [CR], [LF] or [CR, LF]
  let quotes = 0; // '>'s at the start of this line, the first one held back; -1: past the line's start
  let matched = 0; // bytes of "From " after them, held back
  const prefix = () => (quotes > 0 ? [0x3e, ...FROM_.subarray(0, matched)] : []);
  for await (const chunk of chunks) {
    const out = Buffer.allocUnsafe(chunk.length + 16);
    let n = 0;
    const put = (bytes: Iterable<number>) => {
      for (const b of bytes) out[n++] = b;
    };
    for (const b of chunk) {
      if (b === 0x0d || b === 0x0a) {
        put(prefix()); // a line's start that was not a quoted "From ", as it came
        if (b === 0x0a && held.length === 1 && held[0] === 0x0d) held.push(b);
        else {
          put(held);
          held = [b];
        }
        quotes = 0;
        matched = 0;
        continue;
      }
      put(held);
      held = [];
      if (quotes < 0) out[n++] = b;
      else if (matched === 0 && b === 0x3e) {
        if (quotes++ > 0) out[n++] = b;
      } else if (quotes > 0 && b === FROM_[matched]) {
        if (++matched === FROM_.length) {
          put(FROM_);
          quotes = -1;
        }
      } else {
        put(prefix());
        out[n++] = b;
        quotes = -1;
      }
    }
    if (n) yield out.subarray(0, n);
  }
  const tail = [...prefix(), ...(held.length === 1 && held[0] === 0x0d ? held : [])];
  if (tail.length) yield Buffer.from(tail);
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

  /**
   * One message as the ingest takes it: read whole and unquoted at once, or, too large to read (`reader`), streamed,
   * unquoted on the way, to the reader, which keeps it on disk instead of in memory.
   */
  async read(entry: MboxEntry, reader: SourceReader): Promise<FetchedSource> {
    const fh = await (this.handle ??= fs.promises.open(this.file, 'r'));
    try {
      const size = entry.end - entry.start;
      if (reader.tooLargeToRead(size)) {
        const range = { start: entry.start, end: entry.end - 1, autoClose: false, highWaterMark: 1024 * 1024 };
        return await reader.readSource(unquotedMboxMessage(fh.createReadStream(range)));
      }
      const bytes = Buffer.alloc(size);
      const { bytesRead } = await fh.read(bytes, 0, size, entry.start);
      return { raw: mboxMessage(bytes.subarray(0, bytesRead)) };
    } finally {
      if (--this.left === 0) await fh.close();
    }
  }
}

/** The messages of an mbox already in memory (the corpus report's small files). */
export function splitMbox(data: Buffer): Buffer[] {
  const scanner = new MboxScanner();
  scanner.push(data);
  return scanner.end().map((e) => mboxMessage(data.subarray(e.start, e.end)));
}
