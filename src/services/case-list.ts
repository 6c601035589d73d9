import type { Db } from '../db/knex.ts';
import {
  choicesInScope,
  countCasesInScope,
  findCasesInScope,
  internalNotesCount,
  keyOf,
  type CaseListFilter,
  type CaseListKey,
  type CaseListOrder,
  type CaseListScope,
} from '../db/repos/case-list.ts';
import { expiringCache } from '../memo.ts';
import type { Policy } from '../policy/policy.ts';
import { CaseLights } from './case-lights.ts';
import { productLabel } from '../tickets/products.ts';
import { LIGHT_ORDER, type Light } from '../tickets/sla.ts';
import { STAGES, WAITING_ON, type Stage, type Ticket, type WaitingOn } from '../tickets/types.ts';

/**
 * "Mis casos" (the list behind a customer's magic link): the scope comes from the verified link alone (its case's
 * organization and recipient); the query only narrows it. Every parameter is checked here; one that does not parse
 * is dropped and named back to the page, never passed on.
 */

export const PAGE_SIZE = 20;
/** The total is counted up to this many; past it the list says "more than" (counting every case of a large
 * organization cost more than the page itself). */
export const COUNT_LIMIT = 1000;
/** Above this many cases in a scope, a filter or order by SLA light reads only the most recent ones. */
const LIGHT_SCAN_LIMIT = 2000;
const LIGHTS: readonly Light[] = ['green', 'yellow', 'red'];
const ORDERS: readonly (CaseListOrder | 'semaforo')[] = ['recientes', 'antiguos', 'numero', 'actualizados', 'semaforo'];

export type CaseListQuery = Partial<
  Record<
    | 'numero'
    | 'estado'
    | 'producto'
    | 'consultor'
    | 'espera'
    | 'semaforo'
    | 'texto'
    | 'orden'
    | 'pagina'
    | 'desde'
    | 'antes',
    string
  >
>;

export interface CaseListRow {
  ticket: Ticket;
  product?: string;
  light?: Light;
  consultant?: string;
  vobo?: 'si' | 'no';
  /** The viewer's own link to the case, when the viewer is on it. */
  url?: string;
  /** Consultants' list only. */
  notes?: number;
}

export interface CaseListModel {
  rows: CaseListRow[];
  /** Counted up to COUNT_LIMIT: `more` when there are more than that. */
  total: number;
  more: boolean;
  page: number;
  pages: number;
  /** The keys of the first and last rows shown, for the links to the pages before and after (keyset pages). */
  prevKey?: string;
  nextKey?: string;
  hasNext: boolean;
  /** The query as understood (what the form shows back). */
  query: Required<Omit<CaseListQuery, 'pagina' | 'desde' | 'antes'>>;
  ignored: string[];
  choices: { products: string[]; consultants: string[] };
  wholeOrganization: boolean;
  /** The consultants' list: every organization, notes counted, assignees by address. */
  consultantView: boolean;
}

const consultantName = (address: string) => address.split('@')[0];
/** The orders whose key carries a date before the number ("fecha-número"); 'numero' keys are the number alone. */
const KEY_COLUMN_ORDERS: ReadonlySet<string> = new Set(['recientes', 'antiguos', 'actualizados']);
const keyText = (k: CaseListKey) => (k.at === undefined ? String(k.number) : `${k.at}-${k.number}`);

/** The filter's choices (the products and consultants of a scope) are read again at most this often. */
const CHOICES_TTL_MS = 60_000;

export class CaseListService {
  private readonly lights: CaseLights;
  /** Reading the choices means going over every case of the scope: for a page that only offers them, once a minute. */
  private readonly choices: (
    key: string,
    make: () => ReturnType<typeof choicesInScope>,
  ) => ReturnType<typeof choicesInScope>;

  constructor(private readonly deps: { db: Db; policy: Policy; clock?: () => number }) {
    this.choices = expiringCache(1000, CHOICES_TTL_MS, deps.clock);
    this.lights = new CaseLights(deps);
  }

  /** `linksFor` gives the links of the listed cases the viewer may open, by case id, for the whole page at once. */
  async list(
    scope: CaseListScope,
    raw: CaseListQuery,
    linksFor: (tickets: Ticket[]) => Promise<Map<number, string>>,
  ): Promise<CaseListModel> {
    const { db } = this.deps;
    const now = (this.deps.clock ?? Date.now)();
    const ignored: string[] = [];
    const text = (k: keyof CaseListQuery, max = 100) =>
      typeof raw[k] === 'string' ? raw[k]!.trim().slice(0, max) : '';
    const choices = await this.choices(JSON.stringify(scope), () => choicesInScope(db, scope));
    const consultants = [...new Set(choices.assignees.map(consultantName))].sort();

    const filter: CaseListFilter = {};
    const q = {
      numero: text('numero', 12).replace(/^#/, ''),
      estado: text('estado'),
      producto: text('producto'),
      consultor: text('consultor'),
      espera: text('espera'),
      semaforo: text('semaforo'),
      texto: text('texto'),
      orden: text('orden') || 'recientes',
    };
    const drop = (k: keyof typeof q, label: string) => {
      ignored.push(label);
      q[k] = k === 'orden' ? 'recientes' : '';
    };
    if (q.numero) {
      if (/^\d{1,9}$/.test(q.numero)) filter.number = Number(q.numero);
      else drop('numero', 'número');
    }
    if (q.estado === 'abiertos') filter.stages = STAGES.filter((st) => st !== 'cerrado');
    else if (q.estado) {
      if ((STAGES as readonly string[]).includes(q.estado)) filter.stages = [q.estado as Stage];
      else drop('estado', 'estado');
    }
    if (q.producto) {
      if (choices.products.includes(q.producto)) filter.product = q.producto;
      else drop('producto', 'producto');
    }
    if (q.consultor) {
      const address = choices.assignees.find((a) => consultantName(a) === q.consultor);
      if (address) filter.assignee = address;
      else drop('consultor', 'consultor');
    }
    if (q.espera) {
      if ((WAITING_ON as readonly string[]).includes(q.espera)) filter.waitingOn = q.espera as WaitingOn;
      else drop('espera', 'a la espera de');
    }
    if (q.semaforo && !(LIGHTS as readonly string[]).includes(q.semaforo)) drop('semaforo', 'semáforo');
    if (q.texto) filter.text = q.texto;
    if (!(ORDERS as readonly string[]).includes(q.orden)) drop('orden', 'orden');
    const pageAsked = /^\d{1,6}$/.test(text('pagina')) ? Math.max(1, Number(text('pagina'))) : 1;
    if (text('pagina') && !/^\d{1,6}$/.test(text('pagina'))) ignored.push('página');

    const byLight = Boolean(q.semaforo) || q.orden === 'semaforo';
    let rows: CaseListRow[];
    let total: number;
    let page = pageAsked;
    let hasNext: boolean;
    let keys: { prev?: string; next?: string } = {};
    if (byLight) {
      // The light is computed from each case's event log, not stored: filter and order after computing it.
      const found = await findCasesInScope(db, scope, filter, 'recientes', { limit: LIGHT_SCAN_LIMIT });
      let all = await this.withLights(found.tickets, now);
      if (q.semaforo) all = all.filter((r) => r.light === q.semaforo);
      if (q.orden === 'semaforo')
        all.sort(
          (a, b) =>
            (a.light ? LIGHT_ORDER[a.light] : 9) - (b.light ? LIGHT_ORDER[b.light] : 9) ||
            b.ticket.number - a.ticket.number,
        );
      total = all.length;
      page = Math.min(page, Math.max(1, Math.ceil(total / PAGE_SIZE)));
      rows = all.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE);
      hasNext = page * PAGE_SIZE < total;
    } else {
      const order = q.orden as CaseListOrder;
      const key = (k: 'desde' | 'antes') => {
        const v = text(k, 40);
        const m = (KEY_COLUMN_ORDERS.has(order) ? /^(\d{1,15})-(\d{1,9})$/ : /^()(\d{1,9})$/).exec(v);
        if (v && !m) ignored.push('página');
        return m ? { at: m[1] ? Number(m[1]) : undefined, number: Number(m[2]) } : undefined;
      };
      const after = key('desde');
      const before = after ? undefined : key('antes');
      total = await countCasesInScope(db, scope, filter, COUNT_LIMIT);
      let found = await this.page(scope, filter, order, after, before, page);
      if (!found.tickets.length && total > 0 && (page > 1 || after || before)) {
        // Past the end (a page number typed, a key of a case gone): the last page.
        page = Math.max(1, Math.ceil(Math.min(total, COUNT_LIMIT) / PAGE_SIZE));
        found = await this.page(scope, filter, order, undefined, undefined, page);
      }
      rows = await this.withLights(found.tickets, now);
      // Read backwards, `more` says whether pages come before; else whether they come after.
      const backwards = found.backwards;
      if (backwards && !found.more) page = 1;
      else if (after) page = Math.max(2, page);
      hasNext = backwards ? true : found.more;
      const first = rows[0]?.ticket;
      const last = rows.at(-1)?.ticket;
      keys = {
        prev: first && page > 1 ? keyText(keyOf(first, order)) : undefined,
        next: last && hasNext ? keyText(keyOf(last, order)) : undefined,
      };
    }
    const urls = await linksFor(rows.map((r) => r.ticket));
    for (const r of rows) r.url = urls.get(r.ticket.id);
    const consultantView = 'allOrganizations' in scope;
    if (consultantView) {
      const notes = await internalNotesCount(
        db,
        rows.map((r) => r.ticket.id),
      );
      for (const r of rows) {
        r.notes = notes.get(r.ticket.id) ?? 0;
        r.consultant = r.ticket.assignee;
      }
    }
    const more = !byLight && total > COUNT_LIMIT;
    return {
      rows,
      total: more ? COUNT_LIMIT : total,
      more,
      page,
      pages: Math.max(1, Math.ceil(Math.min(total, COUNT_LIMIT) / PAGE_SIZE)),
      prevKey: keys.prev,
      nextKey: keys.next,
      hasNext,
      query: q,
      ignored,
      choices: { products: choices.products, consultants },
      wholeOrganization: consultantView || scope.participant === undefined,
      consultantView,
    };
  }

  /** One page by key (after/before) or by number (offset), with whether the list goes on in the direction read. */
  private async page(
    scope: CaseListScope,
    filter: CaseListFilter,
    order: CaseListOrder,
    after: CaseListKey | undefined,
    before: CaseListKey | undefined,
    page: number,
  ): Promise<{ tickets: Ticket[]; more: boolean; backwards: boolean }> {
    const limit = PAGE_SIZE;
    const offset = after || before ? undefined : (page - 1) * PAGE_SIZE;
    const found = await findCasesInScope(this.deps.db, scope, filter, order, { limit, offset, after, before });
    return { ...found, backwards: !after && Boolean(before) };
  }

  private async withLights(tickets: Ticket[], now: number): Promise<CaseListRow[]> {
    // A closed case shows no light in the list.
    const known = await this.lights.of(
      tickets.filter((t) => t.stage !== 'cerrado'),
      now,
    );
    return tickets.map((t) => ({
      ticket: t,
      product: productLabel(t),
      consultant: t.assignee ? consultantName(t.assignee) : undefined,
      vobo: t.rating === 'satisfactoria' ? 'si' : t.rating === 'insatisfactoria' ? 'no' : undefined,
      light: known.get(t.id),
    }));
  }
}
