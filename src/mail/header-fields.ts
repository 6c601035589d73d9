/**
 * The fields of a message's header block in the order they were written, unfolded (RFC 5322 §2.2.3). A map of
 * headers by name loses that order, and the order is what says who wrote a field: each relay prepends its trace
 * fields (RFC 5321 §4.4), so whatever lies below a Received field was there before that relay took the mail.
 * Pure; reads at most `maxBytes` of the header block.
 */
export interface HeaderField {
  /** Lower-cased. */
  name: string;
  value: string;
}

export function headerFields(source: Buffer | string, maxBytes = 256 * 1024): HeaderField[] {
  const text = (typeof source === 'string' ? source : source.subarray(0, maxBytes).toString('utf8')).slice(0, maxBytes);
  const end = /\r?\n\r?\n/.exec(text);
  const block = /^\r?\n/.test(text) ? '' : end ? text.slice(0, end.index) : text;
  const fields: HeaderField[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (/^[ \t]/.test(line)) {
      const last = fields.at(-1);
      if (last) last.value = `${last.value} ${line.trim()}`.trim();
      continue;
    }
    const colon = line.indexOf(':');
    // A line without a colon ends the header (RFC 5322 §3.5 has none; an mbox "From " line is not a field).
    if (colon <= 0) {
      if (fields.length) break;
      continue;
    }
    fields.push({ name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1).trim() });
  }
  return fields;
}
