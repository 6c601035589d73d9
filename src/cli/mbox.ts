/**
 * Splits an mbox file (RFC 4155) into messages: each begins at a line "From " at the start of the file or after
 * a blank line; ">From " quoting (mboxrd) is undone. Kept here because the npm mbox readers are unmaintained.
 */
export function splitMbox(data: Buffer): Buffer[] {
  const text = data.toString('latin1');
  const starts: number[] = [];
  const re = /(^|\n)From [^\n]*\n/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    const at = m.index + m[1].length;
    if (at === 0 || text[at - 2] === '\n' || (text[at - 2] === '\r' && text[at - 3] === '\n')) starts.push(at);
  }
  const out: Buffer[] = [];
  for (let i = 0; i < starts.length; i++) {
    const begin = text.indexOf('\n', starts[i]) + 1;
    const end = i + 1 < starts.length ? starts[i + 1] : text.length;
    const body = text
      .slice(begin, end)
      .replace(/\r?\n$/, '')
      .replace(/^>(>*From )/gm, '$1');
    if (body.trim()) out.push(Buffer.from(body, 'latin1'));
  }
  return out;
}
