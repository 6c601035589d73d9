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

export function transition(current: Stage, name: TransitionName): StageChange {
  const t = TRANSITIONS[name];
  if (!(t.from as readonly Stage[]).includes(current)) {
    throw new MesaError('TRANSITION_REFUSED', `no se puede "${name}" un caso en etapa "${current}" (permitido desde: ${t.from.join(', ')})`);
  }
  return { transition: name, from: current, to: t.to };
}

export function canTransition(current: Stage, name: TransitionName): boolean {
  return (TRANSITIONS[name].from as readonly Stage[]).includes(current);
}

/** The transition that reaches `target` from `current`, if one is allowed. */
export function transitionTo(current: Stage, target: Stage): TransitionName | undefined {
  for (const [name, t] of Object.entries(TRANSITIONS)) {
    if (t.to === target && (t.from as readonly Stage[]).includes(current)) return name as TransitionName;
  }
  return undefined;
}

export function isOpen(stage: Stage): boolean {
  return stage !== 'cerrado';
}

/** Who the case waits on after a message: a consultant's answer waits on the customer, and vice versa. */
export function waitingAfterMessage(role: 'customer' | 'consultant', current: WaitingOn): WaitingOn {
  if (role === 'consultant') return 'cliente';
  return current === 'tercero' ? 'tercero' : 'soporte';
}
