import type { FastifyRequest } from 'fastify';
import { isMesaError } from '../errors.ts';
import type { UploadedFile } from '../services/portal-types.ts';
import type { BlobStore } from '../storage/blobs.ts';

/**
 * Reads the status page's message form (multipart/form-data) part by part, after the route has checked the link,
 * the CSRF token and the limits: text fields are kept (small: busboy's fieldSize), each file goes to a temporary file
 * under DATA_DIR as it arrives (BlobStore.stage), within MAX_ATTACHMENT_BYTES per file and WEB_UPLOAD_MAX_BYTES for
 * all of them. The first file over a limit stops the reading there: the caller answers and closes the connection,
 * and the files staged so far are removed. Nothing of a file is ever held whole in memory.
 */
export type FormResult =
  | { ok: true; fields: Map<string, string>; files: UploadedFile[] }
  /** `fields`: the text read before the refusal (the form sends it before the files), so the page can keep it. */
  | {
      ok: false;
      status: 400 | 413 | 429;
      reason:
        | 'malformed'
        | 'file-too-large'
        | 'total-too-large'
        | 'too-many-files'
        | 'too-many-parts'
        | 'files-limited'
        | 'text-too-long';
      fields: Map<string, string>;
    };

/** Files one message may carry: a phone's photo picker easily selects more, so the page says this limit by name. */
export const MAX_FILES_PER_MESSAGE = 10;

/** The fields the form has; any other name is read (bounded) and dropped. */
const FIELDS = new Set(['_csrf', 'nonce', 'mensaje', 'visto']);
const FILE_FIELD = 'adjuntos';

export interface FormLimits {
  maxFileBytes: number;
  maxTotalBytes: number;
  /** Counts one more file against the hourly limits; false refuses it. */
  allowFile: () => Promise<boolean>;
}

export async function readMessageForm(req: FastifyRequest, blobs: BlobStore, limits: FormLimits): Promise<FormResult> {
  const fields = new Map<string, string>();
  const files: UploadedFile[] = [];
  let total = 0;
  const refuse = async (
    status: 400 | 413 | 429,
    reason: Extract<FormResult, { ok: false }>['reason'],
  ): Promise<FormResult> => {
    await blobs.discard(files.map((f) => f.staged));
    return { ok: false, status, reason, fields };
  };
  try {
    for await (const part of req.parts()) {
      if (part.type === 'field') {
        if (FIELDS.has(part.fieldname) && !fields.has(part.fieldname) && typeof part.value === 'string')
          fields.set(part.fieldname, part.value);
        // Over the multipart fieldSize the parser cuts the value: a message that long is refused, never kept cut.
        if (part.fieldname === 'mensaje' && part.valueTruncated) return await refuse(413, 'text-too-long');
        continue;
      }
      // A file input left empty is sent as a part without a name and without bytes.
      const named = part.fieldname === FILE_FIELD && part.filename !== '';
      if (named && !(await limits.allowFile())) return await refuse(429, 'files-limited');
      const room = Math.min(limits.maxFileBytes, limits.maxTotalBytes - total);
      const staged = await blobs.stage(part.file, named ? room : 0);
      if (staged === 'too-large')
        return await refuse(413, room < limits.maxFileBytes ? 'total-too-large' : 'file-too-large');
      if (!named || staged.size === 0) {
        await blobs.discard([staged]);
        continue;
      }
      total += staged.size;
      files.push({ filename: part.filename, contentType: part.mimetype || 'application/octet-stream', staged });
    }
  } catch (err) {
    const code = String((err as { code?: string }).code ?? '');
    if (code === 'FST_FILES_LIMIT') return refuse(413, 'too-many-files');
    if (/FST_(PARTS|FIELDS)_LIMIT/.test(code)) return refuse(413, 'too-many-parts');
    if (isMesaError(err)) {
      await blobs.discard(files.map((f) => f.staged));
      throw err;
    }
    return refuse(400, 'malformed');
  }
  return { ok: true, fields, files };
}
