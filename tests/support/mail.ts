/** A plain-text UTF-8 mail from a header map and a body: the raw bytes ingest takes. */
export const mail = (headers: Record<string, string>, body: string) =>
  Buffer.from(Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n') + '\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n' + body, 'utf8');
