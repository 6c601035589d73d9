import type { Command } from '../../tickets/commands.ts';
import { foldText, matcherFor } from '../../tickets/products.ts';
import { canTransition, transitionTo } from '../../tickets/state-machine.ts';
import type { Priority, Stage, TicketView, WaitingOn } from '../../tickets/types.ts';
import type { CommandFacts, Filter, FilterContext } from './types.ts';
import { next } from './types.ts';
import { isUnreadAddress } from '../../mail/unread-addresses.ts';
import { cutText } from '../../text-cut.ts';

const NAMES: Record<string, string> = {
  cerrar: 'cerrar',
  close: 'cerrar',
  reabrir: 'reabrir',
  reopen: 'reabrir',
  prioridad: 'prioridad',
  priority: 'prioridad',
  etapa: 'etapa',
  stage: 'etapa',
  asignar: 'asignar',
  assign: 'asignar',
  nota: 'nota',
  note: 'nota',
  esperar: 'esperar',
  wait: 'esperar',
  producto: 'producto',
  product: 'producto',
  modulo: 'producto',
  module: 'producto',
  publicar: 'publicar',
  publish: 'publicar',
  lista: 'lista',
  list: 'lista',
  cc: 'cc',
  agregar: 'agregar',
  add: 'agregar',
  quitar: 'quitar',
  remove: 'quitar',
};
/** `cc +persona@…` written without the slash, as the issue and people write it: only this exact shape. */
const BARE_CC = /^cc\s+[+-]\s*\S+@/i;
/** An address: its domain as dot-separated labels, so that no two parts of the pattern can take the same dots. */
const EMAIL = /^[^\s@<>(),;:"]+@[^\s@<>(),;:".]+(?:\.[^\s@<>(),;:".]+)+$/;
const PRIORITY: Record<string, Priority> = {
  alta: 'alta',
  high: 'alta',
  media: 'media',
  medium: 'media',
  baja: 'baja',
  low: 'baja',
};
const STAGE: Record<string, Stage> = {
  analisis: 'analisis',
  analysis: 'analisis',
  solucion: 'solucion',
  solution: 'solucion',
  pruebas: 'pruebas',
  testing: 'pruebas',
};
const WAITING: Record<string, WaitingOn> = {
  cliente: 'cliente',
  customer: 'cliente',
  tercero: 'tercero',
  'third-party': 'tercero',
  thirdparty: 'tercero',
  third: 'tercero',
};

export interface ParsedCommands {
  lines: Array<{ name: string; arg: string; line: string } | { error: string; line: string }>;
  rest: string;
}

/** Pure: splits the leading command lines off a text. */
export function parseCommandLines(text: string): ParsedCommands {
  const all = text.replace(/\r\n/g, '\n').split('\n');
  const lines: ParsedCommands['lines'] = [];
  let i = 0;
  for (; i < all.length; i++) {
    const line = all[i].trim();
    if (!line) continue;
    if (!line.startsWith('/') && !BARE_CC.test(line)) break;
    // The name, then whatever follows a space; `s`: a line separator pasted inside a line (U+2028) is text too.
    const m = /^\/?(\S+)(\s.*)?$/s.exec(line)!;
    const name = NAMES[foldText(m[1])];
    if (!name) lines.push({ error: `«${line}»: comando desconocido`, line });
    else lines.push({ name, arg: (m[2] ?? '').trim(), line });
  }
  return { lines, rest: all.slice(i).join('\n').trim() };
}

function resolve(parsed: ParsedCommands, ticket: TicketView | undefined, ctx: FilterContext): CommandFacts {
  const consultants = ctx.config.consultants;
  const commands: Command[] = [];
  const errors: string[] = [];
  let stage: Stage | undefined = ticket?.stage;
  // The customer-side people as the commands leave them, line by line (for the per-case cap and for removals).
  const people = new Set(ticket?.participants.filter((p) => p.role !== 'consultant').map((p) => p.address) ?? []);
  for (const l of parsed.lines) {
    if ('error' in l) {
      errors.push(l.error);
      continue;
    }
    const arg = foldText(l.arg);
    const bad = (why: string) => errors.push(`«${l.line}»: ${why}`);
    switch (l.name) {
      case 'cerrar':
      case 'reabrir':
      case 'etapa': {
        const to: Stage | undefined = l.name === 'cerrar' ? 'cerrado' : l.name === 'reabrir' ? 'reabierto' : STAGE[arg];
        if (l.name === 'etapa' && !to) {
          bad('use analisis, solucion o pruebas');
          break;
        }
        if (l.name !== 'etapa' && arg) {
          bad('no lleva argumentos');
          break;
        }
        if (!stage) {
          bad('el caso no se encontró');
          break;
        }
        const name =
          l.name === 'reabrir' ? (canTransition(stage, 'reabrir') ? 'reabrir' : undefined) : transitionTo(stage, to!);
        if (!name) {
          bad(`no se puede pasar de «${stage}» a «${to}»`);
          break;
        }
        commands.push({ kind: 'stage', transition: name, to: to!, line: l.line });
        stage = to;
        break;
      }
      case 'prioridad':
        if (!PRIORITY[arg]) bad('use alta, media o baja');
        else commands.push({ kind: 'priority', priority: PRIORITY[arg], line: l.line });
        break;
      case 'asignar': {
        const who = l.arg.toLowerCase().replace(/^<|>$/g, '');
        if (!consultants.includes(who)) bad(`«${l.arg || '(vacío)'}» no es un consultor de CONSULTANTS`);
        else commands.push({ kind: 'assign', assignee: who, line: l.line });
        break;
      }
      case 'esperar':
        if (!WAITING[arg]) bad('use cliente o tercero');
        else if (stage === 'cerrado') bad('el caso está cerrado');
        else commands.push({ kind: 'waiting', waitingOn: WAITING[arg], line: l.line });
        break;
      case 'producto': {
        const products = ctx.config.products.products;
        if (!products.length) {
          bad('no hay catálogo de productos (PRODUCTS_FILE)');
          break;
        }
        const g = matcherFor(ctx.config.products).identify(l.arg);
        if (!g.product)
          bad(
            g.candidates.length
              ? `¿cuál? ${g.candidates.join(', ')}`
              : `no está en el catálogo (${products.map((p) => p.name).join(', ')})`,
          );
        else commands.push({ kind: 'product', product: g.product, module: g.module, version: g.version, line: l.line });
        break;
      }
      case 'publicar':
        // Only what the customer accepted is worth teaching: a VoBo or a satisfactory rating on a closed case.
        if (ticket?.stage !== 'cerrado' || ticket.rating !== 'satisfactoria')
          bad('solo se publican casos cerrados con el visto bueno o una calificación satisfactoria del cliente');
        else
          commands.push({
            kind: 'publish',
            title: cutText(l.arg.trim(), 300) || undefined,
            text: parsed.rest,
            line: l.line,
          });
        break;
      case 'lista':
        if (arg) bad('no lleva argumentos');
        else commands.push({ kind: 'list', line: l.line });
        break;
      case 'nota':
        if (arg) bad('no lleva argumentos (escriba la nota en las líneas siguientes)');
        else commands.push({ kind: 'note', line: l.line });
        break;
      case 'cc':
      case 'agregar':
      case 'quitar': {
        if (!ticket) {
          bad('el caso no se encontró');
          break;
        }
        const c = participantChange(l.name, l.arg, ticket, people, ctx);
        if (c.errors.length) for (const e of c.errors) bad(e);
        else commands.push({ kind: 'participants', add: c.add, remove: c.remove, line: l.line });
        break;
      }
    }
  }
  return {
    commands: errors.length ? [] : commands,
    errors,
    internal: errors.length > 0 || commands.some((c) => c.kind === 'note' || c.kind === 'publish' || c.kind === 'list'),
  };
}

/** One `/cc`, `/agregar` or `/quitar` line, checked against the case: `people` is updated as if it had acted. */
function participantChange(
  name: string,
  arg: string,
  ticket: TicketView,
  people: Set<string>,
  ctx: FilterContext,
): { add: string[]; remove: string[]; errors: string[] } {
  const { consultants, supportAddress, fallbackAddress, participants: limits } = ctx.config;
  const add: string[] = [];
  const remove: string[] = [];
  const errors: string[] = [];
  const tokens = arg.split(/[\s,;]+/).filter(Boolean);
  if (!tokens.length) errors.push('falta la dirección (por ejemplo: /cc +persona@empresa.com)');
  for (const token of tokens) {
    const signed = name === 'cc' && /^[+-]/.test(token);
    const removing = name === 'quitar' || (signed && token.startsWith('-'));
    const address = (signed ? token.slice(1) : token).replace(/^<|>$/g, '').toLowerCase();
    if (!EMAIL.test(address)) {
      errors.push(`«${address || token}» no es una dirección de correo`);
      continue;
    }
    if (removing) {
      if (address === ticket.requester) errors.push(`${address} es quien abrió el caso: no se puede quitar`);
      else if (!people.has(address)) errors.push(`${address} no está en el caso`);
      else {
        people.delete(address);
        remove.push(address);
      }
    } else if (consultants.includes(address) || address === supportAddress || address === fallbackAddress) {
      errors.push(`${address} es del equipo de soporte (use /asignar para un consultor)`);
    } else if (isUnreadAddress(address) && !people.has(address)) {
      // Notices to it would bounce or vanish, and its bounces would come back to the case.
      errors.push(`${address} es una dirección automática que nadie lee: no se agrega`);
    } else if (!people.has(address)) {
      if (people.size >= limits.perCase)
        errors.push(
          `el caso ya tiene ${people.size} personas (límite MAX_PARTICIPANTS_PER_CASE = ${limits.perCase}): ` +
            `no se agrega ${address}`,
        );
      else {
        people.add(address);
        add.push(address);
      }
    }
  }
  return { add, remove, errors };
}

function targetView(ctx: FilterContext, ticketId: number): TicketView | undefined {
  return [ctx.taggedTicket, ...ctx.referencedTickets].find((t) => t?.id === ticketId);
}

/**
 * Commands at the top of a consultant's reply, one per line, Spanish with English aliases:
 *   /cerrar (/close) · /reabrir (/reopen) · /prioridad alta|media|baja (/priority high|medium|low)
 *   /etapa analisis|solucion|pruebas (/stage analysis|solution|testing) · /asignar correo@… (/assign)
 *   /nota (/note: the whole reply is an internal note) · /esperar cliente|tercero (/wait customer|third-party)
 *   /producto NÓMINA 4.2 (/product; also /modulo): product, module and version, from the catalogue
 *   /publicar [título] (/publish): the solved case becomes an article; the rest of the mail, if any, is its text
 *   /lista (/list): the consultant gets their signed link to the list of every case
 *   /cc +correo@… -otro@… (also written without the slash, `cc +correo@…`) · /agregar correo@… (/add) ·
 *   /quitar correo@… (/remove): who is on the case; several addresses per line, separated by spaces or commas
 * Parsing stops at the first line that is not a command; the command lines are removed from the text that is
 * relayed. Stage changes are checked here against the state machine on the case as it is now, so that a command
 * that cannot apply is reported before anything changes: one bad line and nothing of the reply acts.
 */
export const commands: Filter = {
  name: 'commands',
  run(_mail, ctx, facts) {
    if (facts.sender?.role !== 'consultant' || !facts.target || facts.automated) return next();
    const parsed = parseCommandLines(facts.visibleText ?? '');
    if (!parsed.lines.length) return next();
    return next({ commands: resolve(parsed, targetView(ctx, facts.target.ticketId), ctx), visibleText: parsed.rest });
  },
};
