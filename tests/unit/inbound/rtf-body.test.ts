import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decompressedRtf, rtfBody } from '../../../src/inbound/rtf-body.ts';
import { readTnef } from '../../../src/inbound/tnef.ts';
import { CORPUS_DIR } from '../../support/corpus.ts';
import { uncompressedRtf } from '../../support/tnef.ts';

const body = (rtf: string) => rtfBody(uncompressedRtf(rtf));

describe('rtfBody', () => {
  it('reads native RTF for its text: paragraphs, code page bytes, Unicode escapes, no tables of fonts or colours', async () => {
    const rtf = String.raw`{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0\fswiss\fcharset0 Arial;}}{\colortbl ;\red0\green0\blue255;}
{\*\generator Riched20 10.0;}\viewkind4\uc1\pard\f0\fs20 Buenos d\'edas,\par
No puedo generar la n\'f3mina de diciembre: sale \ldblquote error 42\rdblquote .\par
\par
Gracias,\line Mar\u237?a Pe\u241?a\tab Contabilidad{\pict\wmetafile8 0a0b0c}\par
}`;
    expect((await body(rtf))?.text).toBe(
      'Buenos días,\nNo puedo generar la nómina de diciembre: sale “error 42”.\n\nGracias,\nMaría Peña\tContabilidad',
    );
  });

  it("decodes a font's own code page (\\fcharset) and a double-byte one", async () => {
    const cyrillic = String.raw`{\rtf1\ansi\ansicpg1252{\fonttbl{\f0 Arial;}{\f1\fcharset204{\*\fname Arial;}Arial CYR;}}\f0 Hola \f1\'cf\'f0\'e8\'e2\'e5\'f2\f0 .\par}`;
    expect((await body(cyrillic))?.text).toBe('Hola Привет.');
    const japanese = String.raw`{\rtf1\ansi\ansicpg932\pard \'93\'fa\'96\'7b\par}`;
    expect((await body(japanese))?.text).toBe('日本');
  });

  it('takes out the HTML or the text Outlook wrapped in RTF (\\fromhtml1, \\fromtext)', async () => {
    const html = String.raw`{\rtf1\ansi\ansicpg1252\fromhtml1 \deff0{\fonttbl{\f0 Arial;}}{\*\htmltag19 <html>}{\*\htmltag34 <body>}\htmlrtf {\htmlrtf0 Factura {\*\htmltag84 <b>}\htmlrtf\b \htmlrtf0 vencida{\*\htmltag92 </b>}\htmlrtf}\htmlrtf0 {\*\htmltag42 </body>}{\*\htmltag27 </html>}}`;
    const out = await body(html);
    expect(out?.html).toContain('<b>vencida</b>');
    expect(out?.text).toBeUndefined();
    const text = String.raw`{\rtf1\ansi\ansicpg1252\fromtext \deff0{\fonttbl{\f0 Courier;}}\f0 Sin acceso al portal\par desde el lunes.\par}`;
    expect((await body(text))?.text).toMatch(/^Sin acceso al portal\r?\n?desde el lunes\./);
  });

  it('is undefined, never throws, for damaged or forged streams', async () => {
    // A header that claims more bytes than there are: the decompressor would read zeros up to the claim.
    const forged = Buffer.alloc(32);
    forged.writeUInt32LE(0x7fffffff, 0);
    forged.writeUInt32LE(100, 4);
    forged.writeUInt32LE(0x75465a4c, 8);
    expect(await rtfBody(forged)).toBeUndefined();
    expect(await rtfBody(Buffer.from('corto'))).toBeUndefined();
    const unknownType = uncompressedRtf('{\\rtf1 hola}');
    unknownType.writeUInt32LE(0x12345678, 8);
    expect(await rtfBody(unknownType)).toBeUndefined();
    expect(await body('no es RTF')).toBeUndefined();
    expect(await body('{\\rtf1\\ansi {\\*\\generator solo metadatos;}}')).toBeUndefined();
    const lzfu = Buffer.concat([Buffer.alloc(16), Buffer.from('basura que no descomprime a RTF')]);
    lzfu.writeUInt32LE(lzfu.length - 4, 0);
    lzfu.writeUInt32LE(4096, 4);
    lzfu.writeUInt32LE(0x75465a4c, 8);
    expect(await rtfBody(lzfu)).toBeUndefined();
  });
});

/** The public corpus's winmail.dat files whose body is compressed RTF: verdammelt/tnef saves it as `X-body.rtf`, and
 * `baselines/X-body.rtf.baseline` holds those bytes. */
describe('rtfBody on the public corpus', () => {
  const dir = path.join(CORPUS_DIR, 'tnef', 'verdammelt-tnef');
  it('decompresses every RTF body to the baseline bytes and reads text out of each', async () => {
    if (!fs.existsSync(dir)) {
      console.warn(`corpus: ${dir} is absent; nothing to check here`);
      return;
    }
    let compared = 0;
    for (const sample of fs.readdirSync(path.join(dir, 'datafiles')).filter((f) => f.endsWith('.tnef'))) {
      const baseline = path.join(dir, 'baselines', sample.replace(/\.tnef$/, '-body.rtf.baseline'));
      if (!fs.existsSync(baseline)) continue;
      const compressed = readTnef(fs.readFileSync(path.join(dir, 'datafiles', sample)))?.compressedRtf;
      expect(compressed, sample).toBeDefined();
      expect(decompressedRtf(compressed!)?.equals(fs.readFileSync(baseline)), sample).toBe(true);
      const out = await rtfBody(compressed!);
      const read = out?.text ?? out?.html ?? '';
      expect(read.trim().length, sample).toBeGreaterThan(0);
      // Text, not RTF: no control words, groups or the NUL Outlook leaves after the document.
      if (out?.text !== undefined) expect(out.text, sample).not.toMatch(/\\[a-z]+|[{}\0]/);
      compared++;
    }
    expect(compared).toBeGreaterThanOrEqual(8);
    const norwegian = readTnef(fs.readFileSync(path.join(dir, 'datafiles', 'MAPI_ATTACH_DATA_OBJ.tnef')))!;
    // \'f8 and \'e5 in code page 1252.
    expect((await rtfBody(norwegian.compressedRtf!))?.text).toContain('bodødamene er noe mer jålete');
  });
});
