import fs from 'node:fs';
import path from 'node:path';
import { MesaError } from '../errors.ts';

/** One message to ingest, with where it came from (for messages in an mbox, its position). */
export interface RawItem {
  label: string;
  path?: string;
  index?: number;
  read(): Promise<Buffer>;
}

/**
 * Expands the CLI's arguments into messages: `.eml` files, folders of them, Maildir folders (cur/ and new/),
 * mbox files, and `-` for one message on standard input (an MTA pipe).
 */
export async function expandInputs(args: string[]): Promise<RawItem[]> {
  const items: RawItem[] = [];
  for (const arg of args) {
    if (arg === '-') {
      items.push({ label: 'stdin', read: readStdin });
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
    const { splitMbox } = await import('./mbox.ts');
    const messages = splitMbox(await fs.promises.readFile(file));
    return messages.map((buf, index) => ({ label: `${file}#${index + 1}`, path: file, index, read: async () => buf }));
  }
  return [{ label: file, path: file, read: () => fs.promises.readFile(file) }];
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

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
