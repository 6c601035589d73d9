import fs from 'node:fs';
import path from 'node:path';
import { MesaError } from './errors.ts';

/**
 * `mkdir -p`, one level at a time from the deepest folder that exists. Not Node's `{ recursive: true }`: under a
 * pseudo-filesystem such as /proc, mkdir answers ENOENT for a parent that does exist, and Node's recursive mkdir then
 * tries the parent and the child again for ever (a typo in DATA_DIR hung `mesa` without a word). Here the first
 * refusal is the answer.
 */
export function makeDirectory(dir: string): void {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !fs.existsSync(d); d = path.dirname(d)) {
    missing.unshift(d);
    if (d === path.dirname(d)) break;
  }
  for (const d of missing) {
    try {
      fs.mkdirSync(d);
    } catch (err) {
      // Made by another process meanwhile (several `mesa` at once on one DATA_DIR): what was wanted.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !fs.statSync(d).isDirectory()) throw err;
    }
  }
}

const WHY: Record<string, string> = {
  ENOTDIR: 'una parte de la ruta es un archivo, no una carpeta',
  EEXIST: 'ya existe y es un archivo, no una carpeta',
  EACCES: 'sin permiso para crearla',
  EPERM: 'sin permiso para crearla',
  EROFS: 'el sistema de archivos es de solo lectura',
  ENOENT: 'no se pueden crear carpetas ahí',
};

/**
 * DATA_DIR made when it is missing, before anything is written under it. A path that cannot hold Mesa's data is said
 * as such, naming the key, not as «fallo temporal» on the first write (or a hang). Retryable all the same, like a
 * DATABASE_URL the server refuses: `mesa ingest -` exits 75 and the MTA keeps the mail until the path is corrected.
 */
export function prepareDataDir(dir: string): void {
  try {
    makeDirectory(dir);
    if (!fs.statSync(dir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'EEXIST' });
  } catch (err) {
    const code = String((err as NodeJS.ErrnoException).code ?? '');
    const why = WHY[code] ?? String((err as Error).message);
    throw new MesaError('DATA_DIR_UNUSABLE', `«${dir}»: ${why}${code ? ` (${code})` : ''}`, { cause: err });
  }
}
