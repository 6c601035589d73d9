import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCatalogue } from '../../../src/policy/products.ts';
import { ProductMatcher } from '../../../src/tickets/products.ts';

const FIXTURES = path.join(import.meta.dirname, '../../fixtures/products');
const catalogueFrom = (file: string) => {
  const problems: string[] = [];
  const c = loadCatalogue({ PRODUCTS_FILE: file }, os.tmpdir(), problems);
  return { catalogue: c, problems };
};
const { catalogue } = catalogueFrom(path.join(FIXTURES, 'productos.yaml'));
const matcher = new ProductMatcher(catalogue);

describe('product, module and version from what customers write', () => {
  it('reads the labelled subjects with ≥ 95 % accuracy and never chooses a wrong product', () => {
    const { cases } = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'subjects.json'), 'utf8')) as {
      cases: Array<[string, string | null, string | null, string | null]>;
    };
    expect(cases.length).toBeGreaterThanOrEqual(100);
    let right = 0;
    const wrongProduct: string[] = [];
    const misses: string[] = [];
    for (const [subject, product, module, version] of cases) {
      const g = matcher.identify(subject);
      const got = [g.product ?? null, g.module ?? null, g.version ?? null];
      if (JSON.stringify(got) === JSON.stringify([product, module, version])) right++;
      else misses.push(`${subject} → ${JSON.stringify(got)} (esperado ${JSON.stringify([product, module, version])})`);
      if (g.product && g.product !== product) wrongProduct.push(subject);
    }
    const accuracy = right / cases.length;
    console.log(
      `producto/módulo/versión: ${right}/${cases.length} = ${(accuracy * 100).toFixed(1)} %; productos equivocados: ${wrongProduct.length}${misses.length ? `\n  ${misses.join('\n  ')}` : ''}`,
    );
    expect(wrongProduct).toEqual([]);
    expect(accuracy).toBeGreaterThanOrEqual(0.95);
  });

  it('takes the head of the subject over the rest, and names the candidates when it cannot choose', () => {
    expect(matcher.identify('BANCOS, la nómina salió dos veces')).toMatchObject({
      product: 'Contabilidad',
      module: 'Bancos',
    });
    expect(matcher.identify('Informes del mes vacíos')).toEqual({ candidates: ['Contabilidad', 'Nómina'] });
  });

  it('reads the head and the version across long runs of spaces as across one (a /producto line is not collapsed)', () => {
    const run = ' '.repeat(64_000);
    expect(matcher.identify(`${run}BANCOS${run}, no carga`)).toMatchObject({
      product: 'Contabilidad',
      module: 'Bancos',
    });
    expect(matcher.identify(`Nómina${run}-${run}no liquida`)).toMatchObject({ product: 'Nómina' });
    expect(matcher.identify(`Nómina versión${run}:${run}4.2`)).toMatchObject({ product: 'Nómina', version: '4.2' });
    expect(matcher.identify(`version${run}x`)).toEqual({ candidates: [] });
  });

  it('reads explicit forms from the body only when the subject names nothing', () => {
    expect(
      matcher.identify('No funciona', 'Buenos días,\nen el módulo de Vacaciones versión 4.0 no deja programar.'),
    ).toMatchObject({ product: 'Nómina', module: 'Vacaciones', version: '4.0' });
    // A body that merely mentions a module does not decide it.
    expect(matcher.identify('No funciona', 'Desde que pagamos la nómina no funciona').product).toBeUndefined();
    expect(matcher.identify('KARDEX, saldos', 'el módulo de nómina está bien').product).toBe('Inventarios');
  });

  it('tolerates one typo only where a single catalogue word is that close, and none in short words', () => {
    expect(matcher.identify('NOMNIA, desprendibles').product).toBe('Nómina');
    expect(matcher.identify('Cajs descuadradas').product).toBeUndefined();
  });

  it('works with no catalogue at all: only the version', () => {
    expect(new ProductMatcher({ products: [] }).identify('Nómina versión 4.2')).toEqual({
      version: '4.2',
      candidates: [],
    });
  });
});

describe('the catalogue file', () => {
  const write = (text: string, ext = 'yaml') => {
    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-productos-')), `productos.${ext}`);
    fs.writeFileSync(f, text);
    return f;
  };

  it('is found in DATA_DIR without PRODUCTS_FILE, and is empty when there is none', () => {
    const dir = path.dirname(write('productos:\n  - nombre: POS\n    modulos: [Cajas]\n'));
    expect(loadCatalogue({}, dir, []).products.map((p) => [p.name, p.modules.map((m) => m.name)])).toEqual([
      ['POS', ['Cajas']],
    ]);
    expect(loadCatalogue({}, fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-vacio-')), []).products).toEqual([]);
  });

  it('reports every bad key by its name', () => {
    expect(
      catalogueFrom(write('productos:\n  - nombre: ""\n    versiones: ["cuatro"]\n    color: rojo\n')).problems.join(
        '\n',
      ),
    ).toMatch(/productos\.0\.nombre: nombre vacío[\s\S]*versiones\.0[\s\S]*color/);
    expect(catalogueFrom(write('productos: [')).problems[0]).toMatch(/no es YAML válido/);
    expect(catalogueFrom('/no/existe.yaml').problems[0]).toMatch(/PRODUCTS_FILE: no se pudo leer/);
    expect(
      catalogueFrom(write('{"productos":[{"nombre":"POS"},{"nombre":"Caja","alias":["pos"]}]}', 'json')).problems[0],
    ).toMatch(/«pos» nombra a dos productos/);
  });
});
