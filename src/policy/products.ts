import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { IN_SPANISH } from '../config-fields.ts';
import { EMPTY_CATALOGUE, foldText, type Catalogue } from '../tickets/products.ts';

/**
 * The catalogue of products and modules the customers bought: `PRODUCTS_FILE`, or `productos.yaml` (or `.json`)
 * in DATA_DIR when present. Validated with the same "every bad key by its name" rule as the rest of the config.
 *
 *   productos:
 *     - nombre: Contabilidad
 *       alias: [conta]
 *       versiones: ["4.1", "4.2"]
 *       modulos:
 *         - Bancos
 *         - { nombre: Cuentas por pagar, alias: [CxP] }
 */

const name = z.string().trim().min(1, 'nombre vacío').max(80);
const ModuleSchema = z.union([
  name.transform((n) => ({ nombre: n, alias: [] as string[] })),
  z.object({ nombre: name, alias: z.array(name).default([]) }).strict(),
]);
const ProductSchema = z
  .object({
    nombre: name,
    alias: z.array(name).default([]),
    versiones: z
      .array(
        z.union([
          z
            .string()
            .trim()
            .regex(/^\d+(\.\d+){0,3}$/, 'versión inválida (p. ej. 4.2)'),
          z.number().transform(String),
        ]),
      )
      .default([]),
    modulos: z.array(ModuleSchema).default([]),
  })
  .strict();
const FileSchema = z.object({ productos: z.array(ProductSchema).default([]) }).strict();

export function loadCatalogue(env: Record<string, string | undefined>, dataDir: string, problems: string[]): Catalogue {
  const explicit = env.PRODUCTS_FILE?.trim();
  const file = explicit
    ? path.resolve(explicit)
    : ['productos.yaml', 'productos.yml', 'productos.json']
        .map((f) => path.join(dataDir, f))
        .find((f) => fs.existsSync(f));
  if (!file) return EMPTY_CATALOGUE;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    problems.push(
      `PRODUCTS_FILE: no se pudo leer ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
    return EMPTY_CATALOGUE;
  }
  let data: unknown;
  try {
    data = /\.json$/i.test(file) ? JSON.parse(text) : YAML.parse(text);
  } catch (err) {
    problems.push(
      `PRODUCTS_FILE: ${file} no es ${/\.json$/i.test(file) ? 'JSON' : 'YAML'} válido ` +
        `(${(err as Error).message.split('\n')[0]})`,
    );
    return EMPTY_CATALOGUE;
  }
  const checked = FileSchema.safeParse(data ?? {}, IN_SPANISH);
  if (!checked.success) {
    for (const issue of checked.error.issues)
      problems.push(`PRODUCTS_FILE ${issue.path.join('.') || '(raíz)'}: ${issue.message}`);
    return EMPTY_CATALOGUE;
  }
  // Two products answering to the same name could never be told apart: refuse the file rather than guess.
  const seen = new Map<string, string>();
  for (const p of checked.data.productos) {
    for (const n of [p.nombre, ...p.alias]) {
      const key = foldText(n).replace(/\s+/g, ' ');
      const owner = seen.get(key);
      if (owner && owner !== p.nombre)
        problems.push(`PRODUCTS_FILE: «${n}» nombra a dos productos (${owner} y ${p.nombre})`);
      seen.set(key, p.nombre);
    }
  }
  return {
    products: checked.data.productos.map((p) => ({
      name: p.nombre,
      aliases: p.alias,
      versions: p.versiones,
      modules: p.modulos.map((m) => ({ name: m.nombre, aliases: m.alias })),
    })),
  };
}
