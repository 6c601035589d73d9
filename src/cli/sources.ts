import fs from 'node:fs';
import path from 'node:path';
import { MesaError } from '../errors.ts';
import type { FetchedSource, SourceReader } from '../inbound/index.ts';

/** One message to ingest, with where it came from (for messages in an mbox, its position). */
export interface RawItem {
  label: string;
  path?: string;
  index?: number;
  read(reader: SourceReader): Promise<FetchedSource>;
}

/**
 * Expands the CLI's arguments into messages: `.eml` files, folders of them, Maildir folders (cur/ and new/),
 * mbox files, and `-` for one message on standard input (an MTA pipe).
 */
export async function expandInputs(args: string[]): Promise<RawItem[]> {
  const items: RawItem[] = [];
  for (const arg of args) {
    if (arg === '-') {
      // An MTA pipe: a mail over the limit is not gathered in memory to be refused.
      items.push({ label: 'stdin', read: (reader) => reader.readSource(process.stdin) });
      continue;
    }
    let stat: fs.Stats;
    try {
      stat = fs.statSync(arg);
    } catch {
      throw new MesaError('INPUT_NOT_FOUND', arg);
    }
    if (stat.isDirectory()) {
      const isMaildir = ['cur', 'new'].some((d) => fs.existsSync(path.join(arg, d)));
      const dirs = isMaildir ? ['new', 'cur'].map((d) => path.join(arg, d)).filter((d) => fs.existsSync(d)) : [arg];
      for (const dir of dirs) {
        for (const name of fs.readdirSync(dir).sort()) {
          const file = path.join(dir, name);
          if (!fs.statSync(file).isFile() || name.startsWith('.')) continue;
          if (!isMaildir && !/\.(eml|msg|txt|mbox)$/i.test(name) && !/^\d+(\.\w+)?$/.test(name)) continue;
          items.push(...(await itemsOfFile(file)));
        }
      }
    } else {
      items.push(...(await itemsOfFile(arg)));
    }
  }
  return items;
}

async function itemsOfFile(file: string): Promise<RawItem[]> {
  if (await looksLikeMbox(file)) {
    // Where each message lies, from one pass over the file; each is read when its turn comes (an export of a whole
    // mailbox is larger than memory, or than one Buffer).
    const { MboxFile, scanMboxFile } = await import('./mbox.ts');
    const mbox = new MboxFile(file, await scanMboxFile(file));
    return mbox.entries.map((entry, index) => ({
      label: `${file}#${index + 1}`,
      path: file,
      index,
      read: (reader) => mbox.read(entry, reader),
    }));
  }
  return [{ label: file, path: file, read: (reader) => reader.readSource(fs.createReadStream(file)) }];
}

async function looksLikeMbox(file: string): Promise<boolean> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const buf = Buffer.alloc(5);
    await fh.read(buf, 0, 5, 0);
    return buf.toString('latin1') === 'From ';
  } finally {
    await fh.close();
  }
}
