import { lockTicket } from '../db/repos/tickets.ts';
import { inUnitOfWork } from '../db/unit-of-work.ts';
import type { Logger } from '../logger.ts';
import { productLabel, type Catalogue, type CatalogueProduct } from '../tickets/products.ts';
import type { Access, PortalDeps } from './portal-types.ts';
import { cutText } from '../text-cut.ts';

/**
 * The customer's own answer to "¿sobre qué producto es tu caso?" on the status page (issue 27): offered while the
 * case has no product, taken only from the catalogue, recorded through the same CaseService.setProduct as the
 * consultants' `/producto` command (a `product_changed` event, then every later notice and the page show it). Once
 * set, the customer's page no longer offers the choice; a consultant corrects it by mail.
 */

/** `Contabilidad` (product only) or `Contabilidad::Bancos` (product and module): the form's option values. */
export const MODULE_SEPARATOR = '::';
const VERSION = /^\d+(\.\d+){0,3}$/;

export type ProductChoiceResult =
  | { kind: 'set'; label: string }
  /** The same choice submitted twice (double click, reload after POST): nothing more to do. */
  | { kind: 'same'; label: string }
  /** Only the customer's link chooses: a consultant's link corrects with `/producto` by mail. */
  | { kind: 'not-customer' }
  /** The case already has a product (another submission, or a consultant, got there first). */
  | { kind: 'taken'; label: string }
  | { kind: 'unknown-product'; value: string }
  | { kind: 'unknown-version'; value: string; product: string; versions: readonly string[] };

/** The products a customer may choose from on this case's page: none once the case has one. */
export function productChoices(catalogue: Catalogue, a: { role: string; ticket: { product?: string } }) {
  return a.role === 'customer' && !a.ticket.product ? catalogue.products : [];
}

type Resolved = { product: CatalogueProduct; module?: string; version?: string };

/** The form's values against the catalogue: exact names only (the select offers nothing else). */
export function resolveChoice(
  catalogue: Catalogue,
  input: { choice: string; version: string },
): Resolved | Extract<ProductChoiceResult, { kind: 'unknown-product' | 'unknown-version' }> {
  const choice = cutText(input.choice.trim(), 200);
  const [productName, moduleName, ...rest] = choice.split(MODULE_SEPARATOR);
  const product = catalogue.products.find((p) => p.name === productName);
  const module = moduleName === undefined ? undefined : product?.modules.find((m) => m.name === moduleName)?.name;
  if (!product || rest.length || (moduleName !== undefined && !module))
    return { kind: 'unknown-product', value: choice };
  const version = input.version
    .trim()
    .replace(/^v(ersi[oó]n)?\s*/i, '')
    .slice(0, 20);
  if (version && (!VERSION.test(version) || (product.versions.length > 0 && !product.versions.includes(version))))
    return { kind: 'unknown-version', value: version, product: product.name, versions: product.versions };
  return { product, module, version: version || undefined };
}

export async function chooseProduct(
  deps: PortalDeps,
  log: Logger,
  a: Extract<Access, { kind: 'ok' }>,
  input: { choice: string; version: string },
  now: number,
): Promise<ProductChoiceResult> {
  if (a.role !== 'customer') return { kind: 'not-customer' };
  const r = resolveChoice(deps.config.products, input);
  if ('kind' in r) return r;
  const wanted = { product: r.product.name, productModule: r.module, productVersion: r.version };
  return inUnitOfWork(deps.db, async (trx) => {
    const ticket = (await lockTicket(trx, a.ticket.id)) ?? a.ticket;
    if (ticket.product) {
      const label = productLabel(ticket)!;
      return label === productLabel(wanted) ? { kind: 'same', label } : { kind: 'taken', label };
    }
    const updated = await deps.cases.setProduct(
      trx,
      ticket,
      { product: r.product.name, module: r.module, version: r.version },
      a.recipient,
      now,
    );
    const label = productLabel(updated)!;
    log.info({ ticket: ticket.number, product: label }, 'producto elegido desde la página del caso');
    return { kind: 'set', label };
  });
}
