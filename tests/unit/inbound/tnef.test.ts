import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTnef } from '../../../src/inbound/tnef.ts';
import { CORPUS_DIR } from '../../support/corpus.ts';
import { tnefStream } from '../../support/tnef.ts';

const pdf = Buffer.from('%PDF-1.4\n% cotización\n');

describe('readTnef', () => {
  it('reads each file with its long Unicode name, its MIME type and its bytes', () => {
    const t = readTnef(
      tnefStream({
        files: [
          {
            title: 'COTIZA~1.PDF',
            longName: 'Cotización año 2026 — señor Núñez.pdf',
            mime: 'application/pdf',
            data: pdf,
          },
          { title: 'LEEME.TXT', data: Buffer.from('hola') },
        ],
      }),
    )!;
    expect(t.files.map((f) => [f.name, f.contentType, f.data.toString('latin1')])).toEqual([
      ['Cotización año 2026 — señor Núñez.pdf', 'application/pdf', pdf.toString('latin1')],
      ['LEEME.TXT', undefined, 'hola'],
    ]);
  });

  it('reads an 8.3 title in the stream code page', () => {
    const t = readTnef(tnefStream({ codepage: 1252, files: [{ title: 'AÑO.TXT', data: Buffer.from('x') }] }))!;
    expect(t.files[0].name).toBe('AÑO.TXT');
  });

  it('takes an OLE object without the id of its interface', () => {
    const ole = Buffer.from('d0cf11e0a1b11ae1', 'hex');
    const t = readTnef(tnefStream({ files: [{ title: 'Untitled Attachment', data: ole, asObject: true }] }))!;
    expect(t.files[0].data.equals(ole)).toBe(true);
  });

  it('reads the body as text and as HTML', () => {
    expect(readTnef(tnefStream({ body: 'No puedo facturar.' }))!.text).toBe('No puedo facturar.');
    expect(readTnef(tnefStream({ html: '<p>No puedo <b>facturar</b>.</p>' }))!.html).toBe(
      '<p>No puedo <b>facturar</b>.</p>',
    );
  });

  it('is undefined for what is not TNEF', () => {
    expect(readTnef(Buffer.from('MZ\x90\x00'))).toBeUndefined();
    expect(readTnef(Buffer.alloc(0))).toBeUndefined();
  });

  it('never throws on a truncated or corrupted stream, and keeps the files read before the damage', () => {
    const whole = tnefStream({
      files: [
        { title: 'A.TXT', longName: 'primero.txt', data: Buffer.from('uno') },
        { title: 'B.TXT', longName: 'segundo.txt', data: Buffer.alloc(5000, 7) },
      ],
    });
    for (let cut = 0; cut <= whole.length; cut += 7) {
      const t = readTnef(whole.subarray(0, cut));
      for (const f of t?.files ?? []) expect(f.data.length).toBeLessThanOrEqual(cut);
    }
    // Cut inside the second file's bytes: the first is kept whole.
    expect(readTnef(whole.subarray(0, whole.length - 3000))!.files.map((f) => f.name)).toEqual(['primero.txt']);
    let seed = 1;
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let i = 0; i < 2000; i++) {
      const bad = Buffer.from(whole);
      for (let k = 0; k < 4; k++) bad[6 + Math.floor(random() * (bad.length - 6))] = Math.floor(random() * 256);
      expect(() => readTnef(bad)).not.toThrow();
    }
  });
});

/** The public corpus's winmail.dat files (verdammelt/tnef's tests): each `X.list` names the files its reader must
 * extract from `X.tnef`, and `baselines/NAME.baseline` holds their bytes. Bodies the original tool saves as files
 * (`X-body.rtf`, `X-body.html`) are not files here: Mesa takes a body as the mail's text. */
describe('readTnef on the public corpus', () => {
  const dir = path.join(CORPUS_DIR, 'tnef', 'verdammelt-tnef');
  it('extracts every listed file with the baseline bytes', () => {
    if (!fs.existsSync(dir)) {
      console.warn(`corpus: ${dir} is absent; nothing to check here`);
      return;
    }
    const samples = fs.readdirSync(path.join(dir, 'datafiles')).filter((f) => f.endsWith('.tnef'));
    expect(samples.length).toBeGreaterThanOrEqual(15);
    let compared = 0;
    for (const sample of samples) {
      const t = readTnef(fs.readFileSync(path.join(dir, 'datafiles', sample)));
      expect(t, sample).toBeDefined();
      const listed = fs
        .readFileSync(path.join(dir, 'datafiles', sample.replace(/\.tnef$/, '.list')), 'utf8')
        .split('\n')
        .filter((name) => name && !/-body\.(rtf|html)$/.test(name));
      // The original tool writes a name's spaces as underscores.
      const names = t!.files.map((f) => (f.name ?? '').replace(/ /g, '_'));
      for (const name of listed) {
        expect(names, `${sample}: ${name}`).toContain(name);
        const baseline = path.join(dir, 'baselines', `${name}.baseline`);
        if (!fs.existsSync(baseline)) continue;
        expect(t!.files[names.indexOf(name)].data.equals(fs.readFileSync(baseline)), `${sample}: ${name}`).toBe(true);
        compared++;
      }
    }
    expect(compared).toBeGreaterThanOrEqual(15);
  });

  it('reads the HTML body and the Unicode names', () => {
    if (!fs.existsSync(dir)) return;
    const read = (name: string) => readTnef(fs.readFileSync(path.join(dir, 'datafiles', name)))!;
    expect(read('body.tnef').html).toMatch(/<html/i);
    expect(read('unicode-mapi-attr-name.tnef').files.map((f) => f.name)).toEqual([
      'spaconsole2.cfg',
      'image001.png',
      'image002.png',
      'image003.png',
    ]);
  });
});
