import type { Knex } from 'knex';
import { isPostgres } from '../../src/db/knex.ts';
import { makeToken, tokenHash } from '../../src/links/tokens.ts';
import { indexText } from '../../src/tickets/search-text.ts';

/**
 * The web bench's database: `count` cases over ORGS organizations, four products (one case in seven without one),
 * every stage, three messages each (question, answer, follow-up), and a published article for one closed case in
 * fifty, all indexed for the knowledge base. One INSERT … SELECT per table, as tests/bench/seed.ts, so 100,000
 * cases take seconds. Returns the customer links the load generator requests.
 */

export const ORGS = 5;
/** Open cases: the newest ones. */
const OPEN = 500;
/** Each requester has count / REQUESTERS cases (all of one organization). */
const REQUESTERS = 1000;

const PRODUCTS: Array<[string, string]> = [
  ['Contabilidad', 'Bancos'],
  ['Nómina', 'Liquidación'],
  ['POS', 'Caja'],
  ['Facturación', 'Factura electrónica'],
];

/** Twenty problems, written as customers write them; case i is about TOPICS[i % 20]. */
const TOPICS: Array<[string, string]> = [
  [
    'Factura electrónica rechazada por la DIAN',
    'La facturación electrónica devuelve un error de validación al enviar.',
  ],
  ['No cuadran los bancos', 'La conciliación bancaria muestra diferencias con el extracto del mes.'],
  ['Error al liquidar la nómina', 'La liquidación de nómina se detiene con un error de seguridad social.'],
  ['La caja no abre', 'El punto de venta no deja abrir la caja del día.'],
  ['Reporte de fin de mes vacío', 'Los informes de cierre salen sin datos.'],
  ['No imprime la factura', 'La impresora térmica no imprime las facturas del POS.'],
  ['Cambio de resolución de facturación', 'Necesitamos cargar la nueva resolución de la DIAN.'],
  ['Vacaciones mal calculadas', 'El cálculo de vacaciones no tiene en cuenta los festivos.'],
  ['Usuario bloqueado', 'Un usuario quedó bloqueado tras varios intentos de ingreso.'],
  ['Lentitud al guardar documentos', 'Guardar un comprobante tarda varios minutos.'],
  ['Retención en la fuente errada', 'La retención calculada no coincide con la tabla vigente.'],
  ['Certificado de ingresos y retenciones', 'No se genera el certificado anual de los empleados.'],
  ['Notas crédito no descuentan inventario', 'Las devoluciones no vuelven al inventario.'],
  ['Copia de seguridad falla', 'La copia de seguridad programada termina con error.'],
  ['Actualización a la versión 4.2', 'Después de actualizar no abre el módulo de bancos.'],
  ['Cierre de caja descuadrado', 'El cierre de caja no coincide con las ventas del día.'],
  ['Prima de servicios', 'La prima de servicios sale en cero para algunos empleados.'],
  ['Exógena de la DIAN', 'El archivo de información exógena no pasa la validación.'],
  ['Facturas duplicadas', 'El sistema envía dos veces la misma factura electrónica.'],
  ['Consecutivo de facturas saltado', 'Se saltó la numeración de las facturas.'],
];

const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;

export interface SeededLinks {
  /** One customer link per sampled case (its requester's), for the case page and the list. */
  tokens: string[];
}

export async function seedWebCases(db: Knex, count: number, secretKey: string, samples = 200): Promise<SeededLinks> {
  const pg = isPostgres(db);
  const series = pg
    ? `s(i) AS (SELECT generate_series(1::bigint, ${count}))`
    : `RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ${count})`;
  const topics = `tpl(k, title, body, stemmed) AS (VALUES ${TOPICS.map(([t, b], k) => `(${k}, ${sqlString(t)}, ${sqlString(b)}, ${sqlString(indexText(`${t}\n${t}\n${b}`))})`).join(', ')})`;
  const products = `prod(k, product, module) AS (VALUES ${PRODUCTS.map(([p, m], k) => `(${k}, ${sqlString(p)}, ${sqlString(m)})`).join(', ')})`;
  const withAll = `WITH ${series}, ${topics}, ${products}`;
  const who = `'cliente' || (i % ${REQUESTERS}) || '@org' || (i % ${ORGS}) || '.co'`;
  // The newest OPEN cases are open (a desk closes its cases): the clock-driven jobs, run once before the load
  // (tests/bench/web.ts), have that many to look at, as a desk's do.
  const open = `i > ${count - OPEN}`;
  const stage = `CASE WHEN NOT (${open}) THEN 'cerrado' WHEN i % 4 = 0 THEN 'abierto' WHEN i % 4 = 1 THEN 'analisis' WHEN i % 4 = 2 THEN 'solucion' ELSE 'pruebas' END`;
  // One case a minute up to now: the newest are minutes old, the oldest months.
  const t0 = Date.now() - count * 60_000 - 10_000_000;
  const at = (offset = 0) => `${t0} + i * 60000 + ${offset}`;
  await db.transaction(async (trx) => {
    await trx.raw(`${withAll} INSERT INTO tickets (id, number, subject, requester, requester_name, organization, product, product_module, product_version, priority, stage, waiting_on, assignee, mailbox, rating, created_at, updated_at, first_response_at, closed_at)
      SELECT i, i, tpl.title || ' (' || i || ')', ${who}, 'Cliente ' || (i % ${REQUESTERS}), 'org' || (i % ${ORGS}) || '.co',
        CASE WHEN i % 7 = 0 THEN NULL ELSE prod.product END, CASE WHEN i % 7 = 0 THEN NULL ELSE prod.module END, CASE WHEN i % 7 = 0 THEN NULL ELSE '4.' || (i % 3) END,
        CASE WHEN i % 5 = 0 THEN 'alta' ELSE 'media' END, ${stage}, CASE WHEN i % 3 = 0 THEN 'cliente' WHEN i % 3 = 1 THEN 'soporte' ELSE 'tercero' END,
        CASE WHEN i % 4 = 0 THEN NULL ELSE 'consultor' || (i % 6) || '@mesa.test' END, 'support', CASE WHEN NOT (${open}) THEN 'satisfactoria' ELSE NULL END,
        ${at()}, ${at(7_200_000)}, ${at(3_600_000)}, CASE WHEN NOT (${open}) THEN ${at(7_200_000)} ELSE NULL END
      FROM s JOIN tpl ON tpl.k = i % ${TOPICS.length} JOIN prod ON prod.k = i % ${PRODUCTS.length}`);
    await trx.raw(
      `${withAll} INSERT INTO participants (ticket_id, address, role, added_at) SELECT i, ${who}, 'requester', ${at()} FROM s`,
    );
    const message = (
      role: string,
      from: string,
      body: string,
      offset: number,
    ) => `${withAll} INSERT INTO messages (ticket_id, role, source, from_address, from_name, message_id, subject, body_text, full_text, internal, verified, created_at, read_at)
      SELECT i, '${role}', 'mail', ${from}, ${role === 'consultant' ? "'Consultor'" : "'Cliente ' || (i % " + REQUESTERS + ')'}, '${role}-' || i || '-${offset}@bench', tpl.title, ${body}, ${body}, FALSE, TRUE, ${at(offset)}, ${role === 'consultant' ? `CASE WHEN i % 2 = 0 THEN ${at(offset + 60_000)} ELSE NULL END` : 'NULL'}
      FROM s JOIN tpl ON tpl.k = i % ${TOPICS.length}`;
    await trx.raw(message('customer', who, 'tpl.body', 0));
    await trx.raw(
      message(
        'consultant',
        `'consultor' || (i % 6) || '@mesa.test'`,
        `'Buenos días. Revise la configuración del módulo y vuelva a intentarlo. ' || tpl.body`,
        3_600_000,
      ),
    );
    await trx.raw(message('customer', who, `'Gracias, ya quedó funcionando.'`, 7_000_000));
    await trx.raw(
      `${withAll} INSERT INTO events (ticket_id, type, actor, to_value, created_at) SELECT i, 'case_opened', ${who}, 'abierto', ${at()} FROM s`,
    );
    // Every solved case in the consultants' index; one in fifty published for the customers.
    await trx.raw(`${withAll} INSERT INTO search_docs (ticket_id, kind, product, stemmed)
      SELECT i, 'case', CASE WHEN i % 7 = 0 THEN NULL ELSE prod.product END, tpl.stemmed FROM s JOIN tpl ON tpl.k = i % ${TOPICS.length} JOIN prod ON prod.k = i % ${PRODUCTS.length} WHERE NOT (${open})`);
    await trx.raw(`${withAll} INSERT INTO kb_articles (ticket_id, number, title, body, product, product_module, published_by, published_at)
      SELECT i, i, tpl.title, tpl.body, CASE WHEN i % 7 = 0 THEN NULL ELSE prod.product END, CASE WHEN i % 7 = 0 THEN NULL ELSE prod.module END, 'consultor1@mesa.test', ${at(8_000_000)}
      FROM s JOIN tpl ON tpl.k = i % ${TOPICS.length} JOIN prod ON prod.k = i % ${PRODUCTS.length} WHERE i % 50 = 4`);
    await trx.raw(
      `INSERT INTO search_docs (ticket_id, kind, product, stemmed) SELECT a.ticket_id, 'article', a.product, d.stemmed FROM kb_articles a JOIN search_docs d ON d.ticket_id = a.ticket_id AND d.kind = 'case'`,
    );
    if (!pg) {
      await trx.raw(
        "INSERT INTO search_fts_cases (rowid, stemmed) SELECT id, stemmed FROM search_docs WHERE kind = 'case'",
      );
      await trx.raw(
        "INSERT INTO search_fts_articles (rowid, stemmed) SELECT id, stemmed FROM search_docs WHERE kind = 'article'",
      );
    }
    await trx('counters').where({ name: 'ticket_number' }).update({ value: count });
    if (pg) {
      for (const table of ['tickets', 'messages', 'events', 'search_docs', 'kb_articles'])
        await trx.raw(`SELECT setval(pg_get_serial_sequence('${table}', 'id'), (SELECT max(id) FROM ${table}))`);
    }
  });
  // Sampled cases spread over the whole range and every organization; their requesters' links, valid for a year.
  const tokens: string[] = [];
  const expiresAt = Math.floor((Date.now() + 365 * 86_400_000) / 1000) * 1000;
  const links = [];
  for (let k = 0; k < samples; k++) {
    const number = 1 + Math.floor(((k + 0.5) * count) / samples);
    const recipient = `cliente${number % REQUESTERS}@org${number % ORGS}.co`;
    const token = makeToken(secretKey, { number, recipient, generation: 1, expiresAt });
    tokens.push(token);
    links.push({
      ticket_id: number,
      recipient,
      generation: 1,
      token_hash: tokenHash(token),
      expires_at: expiresAt,
      created_at: Date.now(),
    });
  }
  await db.batchInsert('links', links, 100);
  if (pg) await db.raw('ANALYZE');
  else await db.raw('PRAGMA wal_checkpoint(TRUNCATE)');
  return { tokens };
}
