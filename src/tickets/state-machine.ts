import { MesaError } from '../errors.ts';
import type { Stage, WaitingOn } from './types.ts';

/**
 * The case lifecycle: every allowed stage change has a name; anything else is refused with a clear error.
 * Pure: it says what the change is, the caller writes it with its event in one transaction.
 */
export const TRANSITIONS = {
  analizar: { from: ['abierto', 'reabierto'], to: 'analisis' },
  proponer_solucion: { from: ['abierto', 'analisis', 'reabierto'], to: 'solucion' },
  enviar_a_pruebas: { from: ['abierto', 'analisis', 'solucion', 'reabierto'], to: 'pruebas' },
  cerrar: { from: ['abierto', 'analisis', 'solucion', 'pruebas', 'reabierto'], to: 'cerrado' },
  reabrir: { from: ['cerrado', 'pruebas', 'solucion'], to: 'reabierto' },
  volver_a_analisis: { from: ['solucion', 'pruebas'], to: 'analisis' },
} as const satisfies Record<string, { from: readonly Stage[]; to: Stage }>;

export type TransitionName = keyof typeof TRANSITIONS;

export interface StageChange {
  transition: TransitionName;
  from: Stage;
  to: Stage;
}

/** Stages and waiting share one mechanism: a table of named moves, each allowed from a list of states. */
type MoveTable<S extends string> = Record<string, { readonly from: readonly S[]; readonly to: S }>;

const allowedFrom = <S extends string>(table: MoveTable<S>, name: string, current: S): boolean =>
  table[name].from.includes(current);

/** The move in `table` that reaches `target` from `current`, if one is allowed. */
function moveTo<S extends string, N extends string>(table: MoveTable<S>, current: S, target: S): N | undefined {
  for (const [name, t] of Object.entries(table)) {
    if (t.to === target && t.from.includes(current)) return name as N;
  }
  return undefined;
}

export function transition(current: Stage, name: TransitionName): StageChange {
  const t = TRANSITIONS[name];
  if (!allowedFrom<Stage>(TRANSITIONS, name, current)) {
    throw new MesaError(
      'TRANSITION_REFUSED',
      `no se puede "${name}" un caso en etapa "${current}" (permitido desde: ${t.from.join(', ')})`,
    );
  }
  return { transition: name, from: current, to: t.to };
}

export function canTransition(current: Stage, name: TransitionName): boolean {
  return allowedFrom<Stage>(TRANSITIONS, name, current);
}

/** The transition that reaches `target` from `current`, if one is allowed. */
export function transitionTo(current: Stage, target: Stage): TransitionName | undefined {
  return moveTo<Stage, TransitionName>(TRANSITIONS, current, target);
}

export function isOpen(stage: Stage): boolean {
  return stage !== 'cerrado';
}

/** Who the case waits on after a message: a consultant's answer waits on the customer, and vice versa. */
export function waitingAfterMessage(role: 'customer' | 'consultant', current: WaitingOn): WaitingOn {
  if (role === 'consultant') return 'cliente';
  return current === 'tercero' ? 'tercero' : 'soporte';
}

/**
 * Who the case waits on changes by name too. A consultant's answer (`esperar_cliente`) and a customer's reply
 * (`esperar_soporte`) are the usual moves; `/esperar tercero` parks it on a third party. Waiting on someone is
 * meaningless on a closed case, so these are refused there.
 */
export const WAITING_TRANSITIONS = {
  esperar_cliente: { from: ['soporte', 'tercero'], to: 'cliente' },
  esperar_soporte: { from: ['cliente', 'tercero'], to: 'soporte' },
  esperar_tercero: { from: ['soporte', 'cliente'], to: 'tercero' },
} as const satisfies Record<string, { from: readonly WaitingOn[]; to: WaitingOn }>;

export type WaitingTransitionName = keyof typeof WAITING_TRANSITIONS;

export interface WaitingChange {
  transition: WaitingTransitionName;
  from: WaitingOn;
  to: WaitingOn;
}

export function changeWaiting(stage: Stage, current: WaitingOn, name: WaitingTransitionName): WaitingChange {
  const t = WAITING_TRANSITIONS[name];
  if (stage === 'cerrado') throw new MesaError('TRANSITION_REFUSED', `no se puede "${name}" en un caso cerrado`);
  if (!allowedFrom<WaitingOn>(WAITING_TRANSITIONS, name, current)) {
    throw new MesaError('TRANSITION_REFUSED', `no se puede "${name}": el caso ya espera a "${current}"`);
  }
  return { transition: name, from: current, to: t.to };
}

export function waitingTransitionTo(current: WaitingOn, target: WaitingOn): WaitingTransitionName | undefined {
  return moveTo<WaitingOn, WaitingTransitionName>(WAITING_TRANSITIONS, current, target);
}

/** One line of the case's event log for a change: who, when, from, to, why (the "expediente"). */
export interface LifecycleEntry {
  type: 'stage_changed' | 'waiting_changed';
  actor: string;
  from: string;
  to: string;
  reason?: string;
  at: number;
  data: { transition: string };
}

export function logEntry(
  change: StageChange | WaitingChange,
  actor: string,
  at: number,
  reason?: string,
): LifecycleEntry {
  const type = change.transition in TRANSITIONS ? 'stage_changed' : 'waiting_changed';
  return { type, actor, from: change.from, to: change.to, reason, at, data: { transition: change.transition } };
}

/**
 * Who the case waits on after a stage change, when the change says so: a reopened case (rejected solution,
 * `/reabrir`, a reply after closing) or one sent back to analysis is support's again; a case in `pruebas` waits on
 * the customer, who is testing the solution (so its SLA clock pauses and the auto-close clock runs).
 */
export function waitingAfterTransition(name: TransitionName, current: WaitingOn): WaitingOn {
  if (name === 'reabrir' || name === 'volver_a_analisis') return 'soporte';
  if (name === 'enviar_a_pruebas') return 'cliente';
  return current;
}
